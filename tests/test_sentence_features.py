"""The NumPy sentence encoder and the Rasa featurizer that uses it, without a trained model.

That the encoder equals sentence-transformers (to 3e-7 on every NLU example) is checked by
scripts/check_sentence_encoder.py, which needs PyTorch; these tests need only the project's venv.
"""
import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.sentence_features import SentenceEmbeddingFeaturizer
from bot.nlp import sentence_encoder
from bot.nlp.sentence_encoder import DIMENSION, EncoderUnavailable, cosine, shared_encoder


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


def test_vectors_are_normalised_and_deterministic(encoder):
    texts = ["he says we can't afford therapy", "hi", "", "   ", "🙂", "she said: \"therapy is for weak people\""]
    first = encoder.encode(texts)
    assert first.shape == (len(texts), DIMENSION)
    assert first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    # Same text, same vector, whatever the batch and its order (padding must not leak in).
    alone = encoder.encode([texts[0]])
    shuffled = encoder.encode(list(reversed(texts)), batch_size=2)
    assert np.allclose(alone[0], first[0], atol=1e-5)
    assert np.allclose(shuffled[-1], first[0], atol=1e-5)


def test_paraphrases_without_shared_words_are_close(encoder):
    stigma, paraphrase, cost = encoder.encode([
        "he says therapy is for crazy people",
        "she thinks shrinks are for lunatics",
        "we can't afford it",
    ])
    assert cosine(stigma, paraphrase) > cosine(stigma, cost) + 0.2


def test_long_text_is_cut_not_crashed(encoder):
    vector = encoder.encode(["word " * 2000])
    assert vector.shape == (1, DIMENSION)
    assert np.isfinite(vector).all()


def test_missing_package_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(sentence_encoder.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EncoderUnavailable, match="make setup"):
        sentence_encoder.model_directory()


def test_featurizer_adds_one_sentence_feature_to_text():
    featurizer = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config()}, "SentenceEmbeddingFeaturizer")
    training = TrainingData([Message(data={TEXT: "my wife says it's my problem", "intent": "report_objection_your_problem"}),
                             Message(data={"intent": "greet"})])
    featurizer.process_training_data(training)
    with_text, without_text = training.training_examples
    sequence, sentence = with_text.get_dense_features(TEXT)
    assert sequence is None
    assert sentence.features.shape == (1, DIMENSION)
    assert without_text.features == []

    incoming = Message(data={TEXT: "my wife says it's my problem"})
    featurizer.process([incoming])
    assert np.allclose(incoming.get_dense_features(TEXT)[1].features, sentence.features, atol=1e-5)


def test_featurizer_rejects_a_bad_batch_size():
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match="batch_size"):
        SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "batch_size": 0}, "x")


def test_training_vectors_are_cached_by_content(monkeypatch, tmp_path, encoder):
    """A retrain after one edited example encodes only that example (the others come from the cache)."""
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path))
    featurizer = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config()}, "SentenceEmbeddingFeaturizer", encoder)
    texts = ["he says we can't afford therapy", "hi", "she thinks shrinks are for lunatics"]
    first = TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in texts])
    featurizer.process_training_data(first)
    assert list((tmp_path / "sentence-embeddings").glob("*.sqlite"))

    encoded = []
    real_encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda batch, **kw: encoded.extend(batch) or real_encode(batch, **kw))
    second = TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in texts[:2] + ["hello there"]])
    featurizer.process_training_data(second)
    assert encoded == ["hello there"]
    for old, new in zip(first.training_examples[:2], second.training_examples[:2]):
        assert np.array_equal(old.get_dense_features(TEXT)[1].features, new.get_dense_features(TEXT)[1].features)
    assert np.allclose(second.training_examples[2].get_dense_features(TEXT)[1].features,
                       real_encode(["hello there"])[0], atol=1e-5)

    # Off: nothing read or written.
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "other"))
    off = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "cache_embeddings": False},
                                      "SentenceEmbeddingFeaturizer", encoder)
    off.process_training_data(TrainingData([Message(data={TEXT: "hi", "intent": "x"})]))
    assert not (tmp_path / "other").exists()
