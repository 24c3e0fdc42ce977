"""PhraseEntityExtractor trained and reloaded through Rasa's own storage, on a small data set, and on
the project's NLU data (phrases, parts of phrases, typos, intent gating, persistence, bad input)."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.entity_extractor import PhraseEntityExtractor, edit_distance
from bot.nlu.pipeline import pipeline_dir

SMALL = """
version: "3.1"
nlu:
- intent: start_step
  examples: |
    - tell me about [homework](step)
    - how do I [do my homework]{"entity": "step", "value": "homework"}
    - what are the [assignments between sessions]{"entity": "step", "value": "homework"}
    - let's talk about the [budget](step)
    - how do we [pay for therapy]{"entity": "step", "value": "budget"}
    - open the [long-term commitment]{"entity": "step", "value": "commitment"} step
- intent: show_menu
  examples: |
    - which steps can I do [on my own]{"entity": "group", "value": "on_your_own"}
    - list the [on your own]{"entity": "group", "value": "on_your_own"} steps
- intent: ask_going_alone
  examples: |
    - should I go to therapy on my own
    - can I do this on my own
    - is it ok to go on my own
- intent: describe_situation
  examples: |
    - we argue about the budget every month
    - money is tight
- synonym: budget
  examples: |
    - money side
"""


@pytest.fixture(scope="module")
def spacy_parts(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("spacy"))
    context = ExecutionContext(GraphSchema({}), node_name="spacy")
    nlp = SpacyNLP.create(
        {**SpacyNLP.get_default_config(), "model": str(pipeline_dir())}, storage, Resource("nlp"), context
    )
    tokenizer = SpacyTokenizer.create(SpacyTokenizer.get_default_config(), storage, Resource("tok"), context)
    return nlp, tokenizer


def tokenize(spacy_parts, messages):
    nlp, tokenizer = spacy_parts
    model = nlp.provide()
    nlp.process(messages, model)
    tokenizer.process(messages)


def train(spacy_parts, data, tmp_path, config=None):
    nlp, tokenizer = spacy_parts
    nlp.process_training_data(data, nlp.provide())
    tokenizer.process_training_data(data)
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="entities")
    resource = Resource("entities")
    config = {**PhraseEntityExtractor.get_default_config(), **(config or {})}
    PhraseEntityExtractor.create(config, storage, resource, context).train(data)
    return PhraseEntityExtractor.load(config, storage, resource, context)


@pytest.fixture(scope="module")
def small(spacy_parts, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "nlu.yml"
    path.write_text(SMALL)
    return train(spacy_parts, load_data(str(path)), tmp_path_factory.mktemp("storage"))


def extract(spacy_parts, extractor, text, intent):
    message = Message(data={TEXT: text, INTENT: {"name": intent, "confidence": 0.9}})
    tokenize(spacy_parts, [message])
    extractor.process([message])
    return [(e["entity"], e["value"], text[e["start"] : e["end"]], e["extractor"]) for e in message.get(ENTITIES, [])]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tell me about homework", [("step", "homework", "homework")]),
        # A lemma: "doing my homework" is the phrase "do my homework".
        ("I'm doing my homework", [("step", "homework", "doing my homework")]),
        # Punctuation does not count: "long term" is "long-term".
        ("the long term commitment please", [("step", "commitment", "long term commitment")]),
        # A part of a phrase with one value, and two parts of one phrase merged into one entity.
        ("what about assignments", [("step", "homework", "assignments")]),
        ("the assignments between sessions", [("step", "homework", "assignments between sessions")]),
        # A synonym that no example annotates.
        ("help me with the money side", [("step", "budget", "money side")]),
        # Typos of phrase words that are no English word.
        ("homwork", [("step", "homework", "homwork")]),
        ("the budjet", [("step", "budget", "budjet")]),
    ],
)
def test_finds_phrases(spacy_parts, small, text, expected):
    assert [found[:3] for found in extract(spacy_parts, small, text, "start_step")] == expected


def test_names_itself_as_the_extractor(spacy_parts, small):
    assert extract(spacy_parts, small, "tell me about homework", "start_step")[0][3] == "PhraseEntityExtractor"


def test_a_phrase_is_no_entity_where_the_data_says_it_is_not(spacy_parts, small):
    # "on my own" is a step group in show_menu, three times unannotated in ask_going_alone.
    assert extract(spacy_parts, small, "which steps can I do on my own", "show_menu")[0][:2] == ("group", "on_your_own")
    assert extract(spacy_parts, small, "can I just go on my own", "ask_going_alone") == []
    # An intent whose examples never named a step: no step, even with the word in it.
    assert extract(spacy_parts, small, "we fight about the budget", "describe_situation") == []
    assert extract(spacy_parts, small, "the homework felt patronising", "report_objection_bad_experience") == []


def test_real_words_are_not_read_as_typos(spacy_parts, small):
    # "budge" and "homeworks"-like real words stay themselves; "render" is one edit from nothing here.
    assert extract(spacy_parts, small, "he won't budge", "start_step") == []


@pytest.mark.parametrize(
    "text",
    ["", "   ", '/start_step{"step": "budget"}', "🙂🙂", "x" * 20000, "<script>alert(1)</script>", "homework " * 500],
)
def test_bad_input_is_calm(spacy_parts, small, text):
    found = extract(spacy_parts, small, text, "start_step")
    if text.startswith("/"):
        assert found == []  # a payload carries its own entities
    assert all(f[1] == "homework" for f in found)


def test_untrained_model_extracts_nothing(spacy_parts, tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="entities")
    loaded = PhraseEntityExtractor.load(PhraseEntityExtractor.get_default_config(), storage, Resource("none"), context)
    assert extract(spacy_parts, loaded, "tell me about homework", "start_step") == []


@pytest.mark.parametrize("config", [{"min_precision": 1.5}, {"min_precision": "x"}, {"typo_min_length": 0}])
def test_bad_config_is_refused(config):
    with pytest.raises(InvalidConfigException):
        PhraseEntityExtractor.validate_config({**PhraseEntityExtractor.get_default_config(), **config})


def test_edit_distance():
    assert edit_distance("budjet", "budget", 2) == 1
    assert edit_distance("acountability", "accountability", 2) == 1
    assert edit_distance("gendre", "gender", 2) == 1  # a swap counts one
    assert edit_distance("stigma", "homework", 1) == 2  # over the limit: limit + 1


@pytest.fixture(scope="module")
def project(spacy_parts, tmp_path_factory):
    data = RasaFileImporter(training_data_paths=["bot/data"]).get_nlu_data()
    return train(spacy_parts, data, tmp_path_factory.mktemp("project"))


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("tell me about the budget step", "start_step", [("step", "budget")]),
        ("how do I hold myself accountable", "start_step", [("step", "accountability")]),
        ("go to acountability", "start_step", [("step", "accountability")]),
        ("let's do the test drive", "start_step", [("step", "test_drive")]),
        ("I live in the UK", "inform_region", [("region", "UK")]),
        ("we're based in Melbourne", "inform_region", [("region", "AU")]),
        ("show me the going alone steps", "show_menu", [("group", "going_alone")]),
        ("he says we can't afford it", "report_objection_cost", []),
        ("can I go to therapy on my own", "ask_going_alone", []),
    ],
)
def test_project_data(spacy_parts, project, text, intent, expected):
    assert [found[:2] for found in extract(spacy_parts, project, text, intent)] == expected
