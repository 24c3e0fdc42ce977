"""The sentence model as an ONNX graph, built in memory from its safetensors weights, for ONNX Runtime.

Why: the encoder is most of a message's NLU time. ONNX Runtime runs the same BERT layers in
2.7-3.8 ms a chat message on the 2-core machine, NumPy in 8.7-9.7 ms (bench/nlu_speed.py), with
the same outputs to float32 rounding (largest difference 2.2e-7 over the benchmark texts;
tests/test_sentence_features.py compares the two on every NLU example).

The graph is the textbook BERT encoder (the formulas of tests/reference_encoder.py): embeddings
(word + position + token type 0, LayerNorm), then per layer self-attention with the additive
padding mask, output projection, residual and LayerNorm, feed-forward with exact GELU
(0.5 x (1 + erf(x / sqrt 2))), residual and LayerNorm; then mean pooling over the real tokens and
L2 normalisation. ONNX Runtime fuses these into its own attention, GELU and LayerNorm kernels.

Nothing is downloaded: the graph is made from the installed model package once, by `make setup`
(`python -m bot.nlu.onnx_graph`) or else by the first process that needs it, into
build/sentence-encoder/ (not in git), under a name keyed by the weights file and this module's
source, so a changed model or graph is rebuilt. The build runs in a child process: building holds
the weights three times over (NumPy, the protobuf, its bytes), a 780 MB peak, while ONNX Runtime
loading the finished file peaks at 190 MB; a server's peak memory stays the latter.

Inputs: `input_ids` int64 (batch, length) and `attention_mask` float32 (batch, length), 1 for a real
token. Output: `embedding` float32 (batch, hidden).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

OPSET = 17  # LayerNormalization is an ONNX operator from 17 on


def build_encoder_graph(weights: Mapping[str, np.ndarray], config: Mapping[str, Any]) -> bytes:
    """The serialized ONNX model of a BERT encoder with mean pooling and L2 normalisation.

    `weights` are the model's tensors by their Hugging Face names (PyTorch's (out, in) layout),
    `config` its config.json.
    """
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    head_dim = hidden // heads

    initializers: Dict[str, Any] = {}
    nodes: List[Any] = []

    def const(name: str, value: Any) -> str:
        if name not in initializers:
            initializers[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def node(op: str, inputs: List[str], **attributes: Any) -> str:
        output = f"{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(x: str, prefix: str) -> str:
        transposed = np.ascontiguousarray(weights[prefix + ".weight"].astype(np.float32).T)  # (in, out)
        return node(
            "Add",
            [
                node("MatMul", [x, const(prefix + ".weight_t", transposed)]),
                const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32)),
            ],
        )

    def layer_norm(x: str, prefix: str) -> str:
        return node(
            "LayerNormalization",
            [
                x,
                const(prefix + ".weight", weights[prefix + ".weight"].astype(np.float32)),
                const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32)),
            ],
            axis=-1,
            epsilon=eps,
        )

    def f32(value: float) -> np.ndarray:
        return np.array(value, dtype=np.float32)

    def i64(*values: int) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    ids, mask = "input_ids", "attention_mask"
    # Embeddings: the first `length` position vectors, token type 0 everywhere.
    length = node("Gather", [node("Shape", [ids]), const("index_1", i64(1))], axis=0)
    positions = node(
        "Slice",
        [
            const(
                "embeddings.position_embeddings.weight",
                weights["embeddings.position_embeddings.weight"].astype(np.float32),
            ),
            const("zero", i64(0)),
            length,
            const("axis_0", i64(0)),
        ],
    )
    h = node(
        "Gather",
        [
            const("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"].astype(np.float32)),
            ids,
        ],
        axis=0,
    )
    h = node("Add", [h, positions])
    h = node(
        "Add", [h, const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))]
    )
    h = layer_norm(h, "embeddings.LayerNorm")

    # (1 - mask) * float32 min on the keys: padding never receives attention.
    keys_mask = node("Unsqueeze", [mask, const("axes_1_2", i64(1, 2))])  # (batch, 1, 1, length)
    additive_mask = node(
        "Mul", [node("Sub", [const("one", f32(1.0)), keys_mask]), const("float32_min", f32(np.finfo(np.float32).min))]
    )
    by_heads = const("shape_by_heads", i64(0, 0, heads, head_dim))  # 0: keep that dimension
    by_hidden = const("shape_by_hidden", i64(0, 0, hidden))
    scale = const("sqrt_head_dim", f32(np.sqrt(head_dim)))

    for i in range(layers):
        p = f"encoder.layer.{i}."

        def split_heads(name: str, perm: List[int]) -> str:
            # Called only in this iteration, with its h and p.
            return node("Transpose", [node("Reshape", [linear(h, p + "attention.self." + name), by_heads])], perm=perm)  # noqa: B023

        query = split_heads("query", [0, 2, 1, 3])  # (batch, heads, length, head_dim)
        key = split_heads("key", [0, 2, 3, 1])  # (batch, heads, head_dim, length)
        value = split_heads("value", [0, 2, 1, 3])
        scores = node("Add", [node("Div", [node("MatMul", [query, key]), scale]), additive_mask])
        weights_ = node("Softmax", [scores], axis=-1)
        context = node(
            "Reshape", [node("Transpose", [node("MatMul", [weights_, value])], perm=[0, 2, 1, 3]), by_hidden]
        )
        h = layer_norm(
            node("Add", [linear(context, p + "attention.output.dense"), h]), p + "attention.output.LayerNorm"
        )
        inner = linear(h, p + "intermediate.dense")
        gelu = node(
            "Mul",
            [
                node("Mul", [inner, const("half", f32(0.5))]),
                node(
                    "Add",
                    [const("one", f32(1.0)), node("Erf", [node("Div", [inner, const("sqrt_2", f32(np.sqrt(2.0)))])])],
                ),
            ],
        )
        h = layer_norm(node("Add", [linear(gelu, p + "output.dense"), h]), p + "output.LayerNorm")

    # Mean over the real tokens, then L2 normalisation (clipped as sentence-transformers does).
    token_mask = node("Unsqueeze", [mask, const("axis_2", i64(2))])  # (batch, length, 1)
    summed = node("ReduceSum", [node("Mul", [h, token_mask]), const("axis_1", i64(1))], keepdims=0)
    counts = node(
        "Clip", [node("ReduceSum", [token_mask, const("axis_1", i64(1))], keepdims=0), const("min_count", f32(1e-9))]
    )
    pooled = node("Div", [summed, counts])
    norms = node("Clip", [node("ReduceL2", [pooled], axes=[-1], keepdims=1), const("min_norm", f32(1e-12))])
    nodes.append(helper.make_node("Div", [pooled, norms], ["embedding"]))

    graph = helper.make_graph(
        nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info(mask, TensorProto.FLOAT, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=list(initializers.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return model.SerializeToString()


CACHE_DIRECTORY = Path(__file__).resolve().parents[2] / "build" / "sentence-encoder"


def graph_file(model_directory: Path, cache_directory: Optional[Path] = None) -> Path:
    """Where the graph of the model in `model_directory` is (or will be) stored: its name changes
    with the weights file (size and modification time), the config and this module's source."""
    weights = (model_directory / "model.safetensors").stat()
    key = hashlib.sha256()
    key.update(f"{weights.st_size}:{weights.st_mtime_ns}\n".encode())
    key.update((model_directory / "config.json").read_bytes())
    key.update(Path(__file__).read_bytes())
    return (cache_directory or CACHE_DIRECTORY) / f"all-MiniLM-L6-v2-{key.hexdigest()[:16]}.onnx"


def write_graph(model_directory: Path, out: Path) -> None:
    """Builds the graph and stores it at `out` atomically (a concurrent builder writes the same bytes)."""
    from safetensors.numpy import load_file

    config = json.loads((model_directory / "config.json").read_text())
    data = build_encoder_graph(load_file(str(model_directory / "model.safetensors")), config)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from a server running as another user
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ensure_graph(model_directory: Path, cache_directory: Optional[Path] = None) -> Path:
    """The stored graph of the model, built first (in a child process) when missing."""
    out = graph_file(model_directory, cache_directory)
    if out.is_file():
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only checkout: build into a private temporary directory
        out = graph_file(model_directory, Path(tempfile.mkdtemp(prefix="sentence-encoder-")))
    completed = subprocess.run(
        [sys.executable, "-m", "bot.nlu.onnx_graph", "--model", str(model_directory), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0 or not out.is_file():
        raise RuntimeError(f"Building the sentence encoder's ONNX graph failed: {completed.stderr.strip()[-2000:]}")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m bot.nlu.onnx_graph`: build the graph of the installed model unless it is there."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the installed package)")
    parser.add_argument("--out", type=Path, help="write the graph here (default: the cache file)")
    args = parser.parse_args(argv)
    if args.model is None:
        from bot.nlu.model_package import model_directory

        args.model = model_directory()
    if args.out is not None:
        write_graph(args.model, args.out)
        return 0
    out = graph_file(args.model)
    if out.is_file():
        print(f"sentence encoder graph is up to date: {out}")
    else:
        write_graph(args.model, out)
        print(f"sentence encoder graph written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
