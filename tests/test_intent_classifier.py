"""SentenceIntentClassifier trained and reloaded through Rasa's own components, on a small data set."""

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import SentenceIntentClassifier, _row_entries, _sentence_features, tfidf
from bot.nlu.sentence_features import SentenceEmbeddingFeaturizer

EXAMPLES = {
    "report_objection_cost": [
        "he says we can't afford therapy",
        "she thinks it's too expensive",
        "my husband says counselling costs a fortune",
        "money is too tight for a therapist",
    ],
    "report_objection_stigma": [
        "he says therapy is for crazy people",
        "she's embarrassed what people would think",
        "my wife thinks counselling is for weak people",
        "he doesn't want anyone to know",
    ],
    "greet": ["hi", "hello there", "good morning", "hey"],
}


def featurizers(storage, context):
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, Resource("tokens"), context
    )
    words = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "alias": "words"}, storage, Resource("words"), context
    )
    chars = CountVectorsFeaturizer.create(
        {
            **CountVectorsFeaturizer.get_default_config(),
            "alias": "chars",
            "analyzer": "char_wb",
            "min_ngram": 1,
            "max_ngram": 4,
        },
        storage,
        Resource("chars"),
        context,
    )
    sentence = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "sentence_meaning"}, "sentence"
    )
    return tokenizer, words, chars, sentence


def featurized(storage, context, data):
    """The featurizers, trained on `data` and run over it (the pipeline's order before a classifier)."""
    tokenizer, words, chars, sentence = featurizers(storage, context)
    tokenizer.process_training_data(data)
    for featurizer in (words, chars):
        featurizer.train(data)
        featurizer.process_training_data(data)
    sentence.process_training_data(data)
    return tokenizer, words, chars, sentence


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), node_name="intents")
    data = TrainingData(
        [Message(data={TEXT: text, INTENT: intent}) for intent, texts in EXAMPLES.items() for text in texts]
    )
    tokenizer, words, chars, sentence = featurized(storage, context, data)
    resource = Resource("intents")
    classifier = SentenceIntentClassifier.create(
        SentenceIntentClassifier.get_default_config(), storage, resource, context
    )
    classifier.train(data)
    loaded = SentenceIntentClassifier.load(SentenceIntentClassifier.get_default_config(), storage, resource, context)

    def classify(text):
        message = Message(data={TEXT: text})
        tokenizer.process([message])
        words.process([message])
        chars.process([message])
        sentence.process([message])
        loaded.process([message])
        return message

    return classifier, loaded, classify


def test_reloaded_model_predicts_like_the_trained_one(trained):
    classifier, loaded, _ = trained
    assert loaded.classes == classifier.classes == sorted(EXAMPLES)
    assert loaded.origins == classifier.origins == ["chars", "words"]
    assert np.allclose(loaded.coef, classifier.coef)


def test_unseen_paraphrases_get_the_right_intent_and_a_ranking(trained):
    _, _, classify = trained
    for text, intent in [
        ("he reckons shrinks are for lunatics", "report_objection_stigma"),
        ("she says we don't have the cash for that", "report_objection_cost"),
        ("hiya", "greet"),
    ]:
        message = classify(text)
        assert message.get(INTENT)["name"] == intent, text
        ranking = message.get(INTENT_RANKING_KEY)
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert len(ranking) == 3 and abs(sum(confidences) - 1.0) < 1e-5


def test_untrained_component_predicts_nothing_without_crashing(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="empty")
    component = SentenceIntentClassifier.load(
        SentenceIntentClassifier.get_default_config(), storage, Resource("missing"), context
    )
    message = Message(data={TEXT: "hello"})
    component.process([message])
    assert message.get(INTENT) == {"name": None, "confidence": 0.0}


@pytest.mark.parametrize("bad", [{"C": 0}, {"dense_weight": -1}, {"ranking_length": 0}, {"C": "ten"}])
def test_bad_config_is_refused_with_the_field_named(bad):
    with pytest.raises(InvalidConfigException, match=list(bad)[0]):
        SentenceIntentClassifier.validate_config({**SentenceIntentClassifier.get_default_config(), **bad})


@pytest.mark.parametrize("seed", range(5))
def test_tfidf_is_sklearns_tfidf_transformer_bit_for_bit(seed):
    """The one tf-idf implementation (training and prediction) against TfidfTransformer's transform."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    rows, width = int(rng.integers(1, 40)), int(rng.integers(1, 300))
    counts = sp.random(rows, width, density=0.2, format="csr", random_state=seed)
    counts.data = rng.integers(1, 9, counts.nnz).astype(np.int64)  # CountVectorizer's counts
    counts = sp.vstack([counts, sp.csr_matrix((1, width), dtype=np.float32)]).tocsr()  # a message without any
    if seed == 4:
        counts = counts.astype(np.float32)
    idf = TfidfTransformer(sublinear_tf=True).fit(counts).idf_.astype(np.float32)  # as train() stores it
    transformer = TfidfTransformer(sublinear_tf=True)
    transformer.idf_ = idf
    expected, ours = transformer.transform(counts), tfidf(counts, idf)
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    assert np.array_equal(ours.indptr, expected.indptr) and np.array_equal(ours.indices, expected.indices)
    assert np.array_equal(ours.data, expected.data)  # the same floats, so the same training matrix


def test_fast_prediction_equals_the_training_matrix_times_the_coefficients(trained):
    """process() computes each message's logits block by block; the straightforward way is the
    training matrix's row (sparse tf-idf blocks and dense block) times the coefficients."""
    _, loaded, classify = trained
    texts = [
        "he reckons shrinks are for lunatics",
        "she says we don't have the cash for that",
        "hiya",
        "completely unrelated words zzz",
        "good morning, my husband thinks therapy costs too much",
    ]
    messages = [classify(text) for text in texts]
    features = [_sentence_features(m) for m in messages]
    logits = np.asarray(loaded._matrix(features) @ loaded.coef.T + loaded.intercept)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.abs(loaded.probabilities(messages) - expected).max() < 1e-9
    for message, row in zip(messages, expected):
        assert message.get(INTENT)["name"] == loaded.classes[int(row.argmax())]
        assert abs(message.get(INTENT)["confidence"] - row.max()) < 1e-9


@pytest.mark.parametrize(
    "row",
    [
        sp.coo_matrix((np.array([2, 1, 3]), (np.zeros(3, int), np.array([1, 4, 7]))), shape=(1, 9)),  # Rasa's form
        sp.coo_matrix(
            (np.array([2, 1, 3]), (np.zeros(3, int), np.array([7, 1, 7]))), shape=(1, 9)
        ),  # unsorted, duplicate
        sp.csr_matrix(np.array([[0, 2, 0, 1]])),
    ],
)
def test_row_entries_are_those_of_the_csr_matrix(row):
    data, columns = _row_entries(row)
    csr = sp.csr_matrix(row)
    assert np.array_equal(data, csr.data) and np.array_equal(columns, csr.indices)
