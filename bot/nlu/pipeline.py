"""The project's spaCy pipeline: a blank English pipeline with the lookup lemmatizer.

No pretrained model can be downloaded on these machines, so the setup step builds this small
pipeline from `spacy` and `spacy-lookups-data` (both pinned) and saves it to disk. Rasa's
`SpacyNLP` loads it by path (see config.yml) and the action server loads the same directory.

Run `python -m bot.nlu.pipeline` to (re)build it. Bump PIPELINE_VERSION when the pipeline
changes: Rasa fingerprints a spaCy model by its path only.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import spacy
from spacy.language import Language

PIPELINE_VERSION = "v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE_DIR = REPO_ROOT / "build" / "spacy" / f"en_lookup_{PIPELINE_VERSION}"


def pipeline_dir() -> Path:
    return Path(os.environ.get("SPACY_PIPELINE_DIR", DEFAULT_PIPELINE_DIR))


def build_blank_pipeline() -> Language:
    """A blank English pipeline whose tokens carry lookup lemmas ("hitting" -> "hit")."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    # Loads the lookup tables from spacy-lookups-data; required before lemmas are available.
    nlp.initialize()
    return nlp


def build(target: Path | None = None) -> Path:
    target = Path(target or pipeline_dir())
    nlp = build_blank_pipeline()
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    return target


@functools.lru_cache(maxsize=4)
def load(path: str | None = None) -> Language:
    """Load the built pipeline (cached); build it in memory if it was never built."""
    location = Path(path) if path else pipeline_dir()
    if (location / "config.cfg").exists():
        return spacy.load(location)
    return build_blank_pipeline()


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"spaCy pipeline written to {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")
