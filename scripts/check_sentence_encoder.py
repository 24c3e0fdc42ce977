"""Compare bot/nlu/sentence_encoder.py with sentence-transformers on the same packaged model.

Needs PyTorch and sentence-transformers, which the project does not install (PyTorch would add
GBs). Run it from any Python that has them, from the repository root:

    python scripts/check_sentence_encoder.py            # prints the largest difference, exit 1 if > 1e-4

Sentences: every training example of bot/data/nlu (or the ones given on the command line).
"""

import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.nlu.sentence_encoder import SentenceEncoder, model_directory  # noqa: E402


def nlu_examples(root: Path):
    for path in sorted((root / "bot" / "data" / "nlu").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield line[2:]


def main() -> int:
    from sentence_transformers import SentenceTransformer

    root = Path(__file__).resolve().parents[1]
    texts = sys.argv[1:] or list(nlu_examples(root))
    texts += ["", "   ", "🙂", "a " * 300]
    ours = SentenceEncoder().encode(texts)
    reference = SentenceTransformer(str(model_directory()), device="cpu")
    reference.max_seq_length = 128
    theirs = reference.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    diff = np.abs(ours - theirs).max(axis=1)
    worst = int(diff.argmax())
    cos = (ours * theirs).sum(axis=1)
    print(
        f"{len(texts)} sentences; largest absolute difference {diff.max():.2e} "
        f"({texts[worst][:60]!r}); smallest cosine {cos.min():.6f}"
    )
    return 0 if diff.max() < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
