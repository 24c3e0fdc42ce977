"""BERT in plain NumPy: the reference the product's ONNX Runtime encoder (bot/nlu/sentence_encoder.py)
is checked against in tests/test_sentence_features.py. It is the textbook forward pass of
all-MiniLM-L6-v2 (embeddings, 6 layers of self-attention and feed-forward with exact GELU, mean
pooling, L2 normalisation), slow (about 9 ms a message, 3x ONNX Runtime) and never run by the bot.
"""

from __future__ import annotations

import functools

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf

from bot.nlu.model_package import model_directory


@functools.lru_cache(maxsize=1)
def _weights():
    return load_file(str(model_directory() / "model.safetensors"))


def reference_encode(encoder, texts):
    """The encoder's forward pass written plainly, on the weights read from the model file: each
    layer's projections whole and apart, x @ W.T with PyTorch's weights, a padded batch with its
    attention mask. `encoder` gives the tokenizer and the model's sizes."""
    w = _weights()

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
