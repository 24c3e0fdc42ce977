"""The practical-question answer selector (bot/nlu/answer_selector.py): trained on a
retrieval intent's examples, it writes Rasa's `response_selector` property, reloads the same, and
trains the same answers every time."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.answer_selector import SentenceAnswerSelector
from tests.test_intent_classifier import featurized

QUESTIONS = {
    "practical/cost": [
        "how much does it cost",
        "what do sessions cost",
        "is couples therapy expensive",
        "what's the price of a session",
    ],
    "practical/confidential": [
        "is it confidential",
        "will the therapist tell my wife what I said",
        "is what I say kept private",
        "does anything I say get shared",
    ],
    "practical/online": [
        "can we do it online",
        "are video sessions possible",
        "is there therapy by zoom",
        "can we meet remotely",
    ],
}
OTHER = {"greet": ["hi", "hello there", "hey"]}
RESPONSES = {f"utter_{key}": [{"text": f"answer about {key}"}] for key in QUESTIONS}
CONFIG = {**SentenceAnswerSelector.get_default_config(), "retrieval_intent": "practical"}


def train(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="answers")
    examples = [
        Message(data={TEXT: t, INTENT: "practical", INTENT_RESPONSE_KEY: key})
        for key, texts in QUESTIONS.items()
        for t in texts
    ]
    examples += [Message(data={TEXT: t, INTENT: intent}) for intent, texts in OTHER.items() for t in texts]
    data = TrainingData(examples, responses=RESPONSES)
    tokenizer, words, chars, sentence = featurized(storage, context, data)
    resource = Resource("answers")
    SentenceAnswerSelector.create(CONFIG, storage, resource, context).train(data)
    loaded = SentenceAnswerSelector.load(CONFIG, storage, resource, context)

    def select(text):
        message = Message(data={TEXT: text})
        for component in (tokenizer, words, chars, sentence, loaded):
            component.process([message])
        return message.get("response_selector")

    return loaded, select


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("storage"))


@pytest.mark.parametrize(
    "text,key",
    [
        ("what will it cost us?", "practical/cost"),
        ("will the therapist keep my secrets private?", "practical/confidential"),
        ("could we do the sessions on video?", "practical/online"),
    ],
)
def test_unseen_questions_get_their_answer_in_rasas_format(trained, text, key):
    _, select = trained
    selector = select(text)
    assert selector["all_retrieval_intents"] == ["practical"]
    response = selector["practical"]["response"]
    assert response["intent_response_key"] == key
    assert response["utter_action"] == f"utter_{key}"
    assert response["responses"] == RESPONSES[f"utter_{key}"]
    ranking = selector["practical"]["ranking"]
    assert ranking[0]["intent_response_key"] == key and ranking[0]["confidence"] == response["confidence"]
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6


def test_only_the_retrieval_intents_examples_are_learnt(trained):
    loaded, _ = trained
    assert loaded.classes == sorted(QUESTIONS)


def test_two_trainings_give_the_same_answers_and_confidences(trained, tmp_path):
    _, select = trained
    _, again = train(tmp_path)
    for text in ("how much is a session", "is it private", "online?", "my husband won't come"):
        assert select(text)["practical"] == again(text)["practical"]


def test_the_retrieval_intent_must_be_named(tmp_path):
    with pytest.raises(InvalidConfigException, match="retrieval_intent"):
        SentenceAnswerSelector.create(
            SentenceAnswerSelector.get_default_config(),
            LocalModelStorage(tmp_path),
            Resource("x"),
            ExecutionContext(GraphSchema({}), node_name="x"),
        )
