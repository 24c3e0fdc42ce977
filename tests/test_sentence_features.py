"""The sentence encoder (ONNX Runtime and NumPy paths) and the Rasa featurizer that uses it, without
a trained model.

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

_encoders = {}


def _encoder(backend):
    if backend not in _encoders:
        _encoders[backend] = sentence_encoder.SentenceEncoder(backend=backend)
    return _encoders[backend]


@pytest.fixture(scope="module", params=["onnx", "numpy"])
def encoder(request):
    """Each test with both paths: ONNX Runtime (what the bot runs) and the NumPy reference."""
    return _encoder(request.param)


@pytest.fixture(scope="module")
def numpy_encoder():
    return _encoder("numpy")


def test_the_bot_runs_the_onnx_path():
    assert shared_encoder().backend == "onnx"


def test_both_paths_give_the_same_vectors_on_the_nlu_examples():
    """ONNX Runtime and NumPy agree to float32 rounding, one message at a time and in padded batches."""
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
    sample = random.Random(0).sample(texts, 300) + ["", "   ", "🙂", "word " * 2000]
    onnx, numpy_ = _encoder("onnx"), _encoder("numpy")
    assert np.abs(onnx.encode(sample) - numpy_.encode(sample)).max() < 1e-5
    for text in sample[:40]:
        assert np.abs(onnx.encode([text]) - numpy_.encode([text])).max() < 1e-5, text


def test_the_onnx_graph_is_built_once_and_rebuilt_for_another_model(tmp_path):
    """ensure_graph builds the file in a child process when it is missing, then reuses it; its name
    follows the weights file, so a reinstalled model gets a new graph."""
    import os

    from bot.nlp import onnx_graph

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


def test_without_onnx_runtime_the_encoder_falls_back_to_numpy(monkeypatch, caplog):
    real_find_spec = sentence_encoder.importlib.util.find_spec
    monkeypatch.setattr(
        sentence_encoder.importlib.util,
        "find_spec",
        lambda name: None if name == "onnxruntime" else real_find_spec(name),
    )
    assert sentence_encoder._resolve_backend("auto") == "numpy"
    assert "onnxruntime" in caplog.text
    with pytest.raises(ValueError, match="backend"):
        sentence_encoder._resolve_backend("torch")


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


def _reference_encode(encoder, texts):
    """The encoder's forward pass written plainly (as before it was made fast), on the weights read
    from the model file: each layer's projections whole and apart, x @ W.T with PyTorch's weights,
    a padded batch with its attention mask."""
    from safetensors.numpy import load_file
    from scipy.special import erf

    w = load_file(str(sentence_encoder.model_directory() / "model.safetensors"))

    def dense(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def layer_norm(x, name):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + encoder.eps) * w[name + ".weight"] + w[name + ".bias"]

    encodings = [encoder.tokenizer.encode(t) for t in texts]
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), length), dtype=np.int64)
    mask = np.zeros((len(texts), length), dtype=np.float32)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1.0
    batch, heads, head_dim = len(texts), encoder.heads, encoder.hidden // encoder.heads
    h = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    h = layer_norm(h, "embeddings.LayerNorm")
    additive_mask = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
    for layer in range(encoder.layers):
        p = f"encoder.layer.{layer}."

        def split(x):
            return x.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(h, p + "attention.self." + n)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_dim)) + additive_mask
        probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, encoder.hidden)
        h = layer_norm(dense(context, p + "attention.output.dense") + h, p + "attention.output.LayerNorm")
        inner = dense(h, p + "intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))
        h = layer_norm(dense(inner, p + "output.dense") + h, p + "output.LayerNorm")
    pooled = (h * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_fast_forward_pass_equals_a_straightforward_one(encoder):
    """NumPy: halves on two threads, stacked QKV, gemv for short inputs, gemm for long ones, in-place
    ops; ONNX Runtime: its fused kernels. The same vectors to float32 rounding."""
    texts = [
        "hi",
        "good morning",
        "he says therapy is for crazy people",  # few word pieces: the gemv path
        "I tend to shut down when we argue, and next time I'd like to stay in the conversation.",  # gemm
        "my partner won't come to couples therapy, she says we can't afford it and it's a waste of time",
    ]
    lengths = [len(encoder.tokenizer.encode(t).ids) for t in texts]
    assert min(lengths) <= sentence_encoder.GEMV_TOKENS < max(lengths)
    for text in texts:  # one message at a time, as in a conversation
        assert np.abs(encoder.encode([text]) - _reference_encode(encoder, [text])).max() < 1e-5, text
    # padded batches (masking), small (gemv) and large (gemm), against the reference's padded batches
    for batch in (texts[:2], texts):
        assert np.abs(encoder.encode(batch) - _reference_encode(encoder, batch)).max() < 1e-5


def test_blas_threads_are_restored_after_encoding(numpy_encoder):
    encoder = numpy_encoder
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import threading

    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpoolctl.threadpool_info()]
    errors = []

    def work():
        try:
            for _ in range(3):
                encoder.encode(["he says we can't afford therapy"])
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(3)]  # overlapping limits must not leak one thread
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpoolctl.threadpool_info()] == before


def test_a_busy_helper_thread_never_blocks_encoding(numpy_encoder):
    """The second halves are taken back when the helper thread has not started them (work stealing):
    with the helper stuck, encoding still finishes, with the same vectors."""
    import threading

    texts = ["hi", "my partner won't come to couples therapy, she says we can't afford it and it's a waste of time"]
    encoder = numpy_encoder
    expected = [encoder.encode([t]) for t in texts]
    executor = encoder._helper._executor_here()
    if executor is None:
        pytest.skip("one core: no helper thread")
    release = threading.Event()
    stuck = executor.submit(release.wait, 30)
    try:
        for text, vector in zip(texts, expected):
            assert np.array_equal(encoder.encode([text]), vector)
    finally:
        release.set()
    assert stuck.result() is True
