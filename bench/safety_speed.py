"""The safety gate's own work per message, old (a git revision) against new (the working tree).

What bot/safety/gate.py's `SafetyGate.process` does per message: danger detection
(bot/safety/detector.py: normalise, the detector's own spaCy call, the Matchers) and, when no danger
is found, language detection (bot/safety/language.py), then the intent override. Both versions run
in this process, single-threaded, over the messages of tests/safety/*.yml; each figure is the
median of --repeats passes (the machine is shared: medians, not means). The old modules are
taken from `git show <rev>:bot/nlu/{danger,language}.py` (default HEAD) and imported under other
names; the gate code itself is the working tree's, given the old detector and language module.

    .venv/bin/python bench/safety_speed.py               # old = HEAD
    .venv/bin/python bench/safety_speed.py --ref HEAD~3 --repeats 9

Parts (ms per message, averaged over all messages so they add up to about the gate's figure):
  normalise + spaCy parse   the detector's `nlp(normalise(text)[:5000])` (new: its `_parse`)
  matchers (rest of detect) detect() minus the line above
  language detect           language.detect, on the messages the gate calls it for
The gate also checks that old and new set the same intent, ranking and safety key on every message.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, List, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # spaCy's thinc imports TensorFlow when it is installed


def eval_texts() -> List[str]:
    import yaml

    texts: List[str] = []
    for path in sorted((REPO_ROOT / "tests" / "safety").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += [item["text"] for item in data.get("items", []) if isinstance(item, dict) and item.get("text")]
    return texts


def load_revision(rev: str, name: str, paths: Sequence[str], tmp: Path) -> ModuleType:
    """The module at the first of `paths` that exists at `rev` (files moved: bot/nlu -> bot/safety)."""
    for path in paths:
        shown = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            source = shown.stdout
            break
    else:
        raise SystemExit(f"none of {list(paths)} exists at {rev}")
    target = tmp / f"{name}.py"
    target.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def median_ms(fn: Callable[[Any], Any], items: List[Any], repeats: int, count: int) -> float:
    """Median over `repeats` passes of the time of fn over all items, in ms per message (`count`)."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for item in items:
            fn(item)
        runs.append((time.perf_counter() - started) * 1000 / count)
    return statistics.median(runs)


def messages(texts: List[str]) -> list:
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
    from rasa.shared.nlu.training_data.message import Message

    out = []
    for text in texts:
        msg = Message(data={"text": text})
        msg.set(INTENT, {"name": "describe_conflict", "confidence": 0.9})
        msg.set(
            INTENT_RANKING_KEY,
            [{"name": "describe_conflict", "confidence": 0.9}, {"name": "greet", "confidence": 0.05}],
        )
        out.append(msg)
    return out


@contextmanager
def language_module(module: ModuleType) -> Iterator[None]:
    from bot.nlu import safety

    saved = safety.language
    safety.language = module
    try:
        yield
    finally:
        safety.language = saved


def gate_ms(gate, language, texts: List[str], repeats: int) -> float:
    runs = []
    with language_module(language):
        for _ in range(repeats):
            batch = messages(texts)  # fresh messages each pass (process changes them), built untimed
            started = time.perf_counter()
            for msg in batch:
                gate.process([msg])
            runs.append((time.perf_counter() - started) * 1000 / len(texts))
    return statistics.median(runs)


def outputs(gate, language, texts: List[str]) -> list:
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY

    from bot.safety.gate import SAFETY_KEY

    with language_module(language):
        batch = messages(texts)
        for msg in batch:
            gate.process([msg])
    return [(m.get(INTENT), m.get(INTENT_RANKING_KEY), m.get(SAFETY_KEY)) for m in batch]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default="HEAD", help="git revision of the old code (default HEAD)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import warnings

    # Quiet: the deprecation warnings Rasa's and spaCy's dependencies print on import.
    with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from bot.nlu import pipeline
        from bot.safety import detector as new_danger
        from bot.safety import language as new_language
        from bot.safety.gate import SafetyGate

    with tempfile.TemporaryDirectory() as tmp:
        old_danger = load_revision(args.ref, "_old_danger", ["bot/safety/detector.py", "bot/nlu/danger.py"], Path(tmp))
        old_language = load_revision(
            args.ref, "_old_language", ["bot/safety/language.py", "bot/nlu/language.py"], Path(tmp)
        )
    # The old language module finds its data files relative to its own path: point it at the repository's.
    for attr in ("HERE", "NLP_DIR", "REPO_ROOT", "MULTILINGUAL_FILE", "NLU_DIR"):
        if hasattr(new_language, attr):
            setattr(old_language, attr, getattr(new_language, attr))

    nlp = pipeline.load()
    versions = {
        "old": (
            old_danger,
            old_language,
            old_danger.DangerDetector(nlp, old_danger.load_config(new_danger.PATTERNS_FILE)),
        ),
        "new": (
            new_danger,
            new_language,
            new_danger.DangerDetector(nlp, new_danger.load_config(new_danger.PATTERNS_FILE)),
        ),
    }
    texts = eval_texts()
    n = len(texts)
    rows = {}
    for label, (module, language, detector) in versions.items():
        language.warm_up()
        gate = SafetyGate({}, detector)
        for _ in range(2):  # warm-up: caches, lazy loads
            outputs(gate, language, texts)
        spoken = [t for t in texts if t.strip() and not detector.detect(t).is_danger]
        # The detector's own parse: `_parse` (bot/safety/detector.py's faster nlp call) where it has one.
        nlp_call = getattr(detector, "_parse", detector.nlp)
        parse = median_ms(lambda t: nlp_call(module.normalise(t)[:5000]), texts, args.repeats, n)  # noqa: B023 (called here, in this iteration)
        detect = median_ms(detector.detect, texts, args.repeats, n)
        rows[label] = {
            "normalise + spaCy parse": parse,
            "matchers (rest of detect)": detect - parse,
            "language detect": median_ms(language.detect, spoken, args.repeats, n),
            "SafetyGate.process (total)": gate_ms(gate, language, texts, args.repeats),
        }
        rows[label]["_outputs"] = outputs(gate, language, texts)
    same = rows["old"].pop("_outputs") == rows["new"].pop("_outputs")

    print(
        f"{n} messages (tests/safety/*.yml), single-threaded, median of {args.repeats}; old = {args.ref}, new = working tree"
    )
    print(f"{'ms per message':28} {'old':>8} {'new':>8} {'speed-up':>9}")
    for part in rows["old"]:
        old, new = rows["old"][part], rows["new"][part]
        print(f"{part:28} {old:8.3f} {new:8.3f} {old / new if new > 0 else float('inf'):8.1f}x")
    print(f"same intent, ranking and safety key on every message: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
