"""The sentence encoder (ONNX Runtime, checked against a plain NumPy reference) and the Rasa
featurizer that uses it, without a trained model.

That the encoder equals sentence-transformers (to 3e-7 on every NLU example) is checked by
scripts/check_sentence_encoder.py, which needs PyTorch; these tests need only the project's venv.
"""

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import sentence_encoder
from bot.nlu.sentence_encoder import DIMENSION, EncoderUnavailable, cosine, shared_encoder
from bot.nlu.sentence_features import SentenceEmbeddingFeaturizer
from tests.reference_encoder import reference_encode


@pytest.fixture(scope="module")
def encoder():
    """The bot's encoder (ONNX Runtime)."""
    return shared_encoder()


def test_onnx_runtime_gives_the_reference_vectors_on_the_nlu_examples(encoder):
    """ONNX Runtime and the plain NumPy reference agree to float32 rounding, one message at a time
    and in padded batches (the reference is slow: a sample of the examples)."""
    import random
    import re
    from pathlib import Path

    import yaml

    texts = []
    for path in sorted(Path("bot/data/nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", line.strip()[2:].strip())
                if text:
                    texts.append(text)
    assert len(texts) > 1000
    sample = random.Random(0).sample(texts, 120) + ["", "   ", "🙂", "word " * 2000]
    for start in range(0, len(sample), 32):
        batch = sample[start : start + 32]
        assert np.abs(encoder.encode(batch) - reference_encode(encoder, batch)).max() < 1e-5
    for text in sample[:40]:
        assert np.abs(encoder.encode([text]) - reference_encode(encoder, [text])).max() < 1e-5, text


def test_the_onnx_graph_is_built_once_and_rebuilt_for_another_model(tmp_path):
    """ensure_graph builds the file in a child process when it is missing, then reuses it; its name
    follows the weights file, so a reinstalled model gets a new graph."""
    import os

    from bot.nlu import onnx_graph

    model = sentence_encoder.model_directory()
    built = onnx_graph.ensure_graph(model, tmp_path)
    assert built.parent == tmp_path and built.stat().st_size > 80_000_000
    assert not list(tmp_path.glob("*.partial"))
    stamp = built.stat().st_mtime_ns
    assert onnx_graph.ensure_graph(model, tmp_path) == built and built.stat().st_mtime_ns == stamp

    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("model.safetensors", "config.json"):
        os.symlink(model / name, copy / name)
    (copy / "model.safetensors").unlink()
    (copy / "model.safetensors").write_bytes(b"not the same weights")
    assert onnx_graph.graph_file(copy, tmp_path) != built
    with pytest.raises(RuntimeError, match="ONNX graph failed"):
        onnx_graph.ensure_graph(copy, tmp_path)


def test_without_onnx_runtime_the_encoder_says_how_to_fix(monkeypatch):
    real_find_spec = sentence_encoder.importlib.util.find_spec
    monkeypatch.setattr(
        sentence_encoder.importlib.util,
        "find_spec",
        lambda name: None if name == "onnxruntime" else real_find_spec(name),
    )
    with pytest.raises(EncoderUnavailable, match="make setup"):
        sentence_encoder.SentenceEncoder()


def test_vectors_are_normalised_and_deterministic(encoder):
    texts = ["he says we can't afford therapy", "hi", "", "   ", "🙂", 'she said: "therapy is for weak people"']
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
    stigma, paraphrase, cost = encoder.encode(
        [
            "he says therapy is for crazy people",
            "she thinks shrinks are for lunatics",
            "we can't afford it",
        ]
    )
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
        {**SentenceEmbeddingFeaturizer.get_default_config()}, "SentenceEmbeddingFeaturizer"
    )
    training = TrainingData(
        [
            Message(data={TEXT: "my wife says it's my problem", "intent": "report_objection_your_problem"}),
            Message(data={"intent": "greet"}),
        ]
    )
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
        {**SentenceEmbeddingFeaturizer.get_default_config()}, "SentenceEmbeddingFeaturizer", encoder
    )
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
    assert np.allclose(
        second.training_examples[2].get_dense_features(TEXT)[1].features, real_encode(["hello there"])[0], atol=1e-5
    )

    # Off: nothing read or written.
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "other"))
    off = SentenceEmbeddingFeaturizer(
        {**SentenceEmbeddingFeaturizer.get_default_config(), "cache_embeddings": False},
        "SentenceEmbeddingFeaturizer",
        encoder,
    )
    off.process_training_data(TrainingData([Message(data={TEXT: "hi", "intent": "x"})]))
    assert not (tmp_path / "other").exists()
