"""Per-message time of the two NumPy NLU components, old (a git revision) against new (the work tree).

The sentence encoder (bot/nlp/sentence_encoder.py) and the intent classifier
(bot/components/intent_classifier.py) of a git revision (default HEAD) are loaded as separate
modules next to the work tree's, and both are timed in the same process on the same messages,
interleaved in random order message by message, so a slow spell of a shared machine hits both.
Figures are per message (one `encode([text])`, one `process([message])`): median, mean and p90.

    python bench/nlu_speed.py                                   # encoder only, no model needed
    python bench/nlu_speed.py --model bot/models/reluctant-partner-coach.tar.gz   # and the classifier
    python bench/nlu_speed.py --check                           # and old == new on every NLU example

Texts: bench/components.py's (the safety evaluation sets and the parse texts). The classifier's
inputs are the messages as the model's own pipeline featurized them (captured during parses).
`--check` compares the encoders on every example of bot/data/nlu one by one and in batches and
reports the largest absolute difference; with --model the classifiers' probabilities likewise.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

ENCODER = "bot/nlp/sentence_encoder.py"
CLASSIFIER = "bot/components/intent_classifier.py"


def module_at(revision: str, path: str, name: str, directory: Path) -> Any:
    """The file as it was at `revision`, imported under another module name."""
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout
    file = directory / f"{name}.py"
    file.write_text(source)
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    register = DefaultV1Recipe.register
    DefaultV1Recipe.register = lambda *a, **k: (lambda cls: cls)  # type: ignore[assignment]  # keep the registry
    try:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    finally:
        DefaultV1Recipe.register = register  # type: ignore[assignment]
    return module


def nlu_examples() -> List[str]:
    texts = []
    for path in sorted((REPO_ROOT / "bot" / "data" / "nlu").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    texts.append(line.strip()[2:])
    return texts + ["", "   ", "🙂", "a " * 300]


def interleaved(calls: Dict[str, Callable[[Any], Any]], inputs: List[Any], rounds: int) -> Dict[str, List[float]]:
    """Seconds per call of each variant, the variants in random order for each input."""
    spent: Dict[str, List[float]] = {name: [] for name in calls}
    for item in inputs[:10]:  # warm-up
        for call in calls.values():
            call(item)
    rng = random.Random(0)
    for _ in range(rounds):
        for item in inputs:
            order = list(calls.items())
            rng.shuffle(order)
            for name, call in order:
                started = time.perf_counter()
                call(item)
                spent[name].append(time.perf_counter() - started)
    return spent


def report(title: str, spent: Dict[str, List[float]]) -> None:
    print(title)
    for name, values in spent.items():
        values = sorted(values)
        print(f"  {name:>4}: median {statistics.median(values) * 1e3:7.3f} ms  mean {statistics.fmean(values) * 1e3:7.3f} ms"
              f"  p90 {values[int(0.9 * (len(values) - 1))] * 1e3:7.3f} ms  ({len(values)} calls)")


def bench_encoder(old_module: Any, texts: List[str], rounds: int, check: bool) -> None:
    from bot.nlp.sentence_encoder import SentenceEncoder

    old, new = old_module.SentenceEncoder(), SentenceEncoder()
    lengths = [len(new.tokenizer.encode(t).ids) for t in texts]
    print(f"encoder: {len(texts)} texts, word pieces median {statistics.median(lengths)}, max {max(lengths)}")
    report("sentence encoder, encode([text])",
           interleaved({"old": lambda t: old.encode([t]), "new": lambda t: new.encode([t])}, texts, rounds))
    if check:
        examples = nlu_examples()
        single = max(float(np.abs(old.encode([t]) - new.encode([t])).max()) for t in examples)
        batched = float(np.abs(old.encode(examples) - new.encode(examples)).max())
        print(f"encoder check on {len(examples)} NLU examples: max |old - new| one by one {single:.2e}, "
              f"in batches of 64 {batched:.2e}")


def featurized_messages(model: str, texts: List[str]) -> tuple:
    """The trained classifier component and each text's message as the pipeline hands it to it."""
    from rasa.core.agent import Agent
    from rasa.model import get_local_model

    agent = Agent.load(get_local_model(model))
    runner = agent.processor.graph_runner
    node = next(n for name, n in runner._instantiated_nodes.items()  # noqa: SLF001
                if "SentenceIntentClassifier" in name)
    captured: List[Any] = []
    original = node._fn  # noqa: SLF001

    def capture(component: Any, messages: List[Any], **kwargs: Any) -> Any:
        captured.extend(messages)
        return original(component, messages, **kwargs)

    node._fn = capture  # noqa: SLF001
    loop = asyncio.new_event_loop()
    for text in texts:
        loop.run_until_complete(agent.parse_message(text))
    node._fn = original  # noqa: SLF001
    return node._component, captured  # noqa: SLF001


def bench_classifier(old_module: Any, model: str, texts: List[str], rounds: int, check: bool) -> None:
    new, messages = featurized_messages(model, texts)
    old = old_module.SentenceIntentClassifier(new._config, new._model_storage, new._resource)  # noqa: SLF001
    for attribute in ("classes", "origins", "idf", "coef", "intercept"):
        setattr(old, attribute, getattr(new, attribute))
    print(f"classifier: {len(messages)} messages, {len(new.classes)} intents, coef {new.coef.shape}")
    report("intent classifier, process([message])",
           interleaved({"old": lambda m: old.process([m]), "new": lambda m: new.process([m])}, messages, rounds))
    if check:
        diff = max(float(np.abs(old.probabilities([m]) - new.probabilities([m])).max()) for m in messages)
        batched = float(np.abs(old.probabilities(messages) - new.probabilities(messages)).max())
        same_top = all(old.probabilities([m]).argmax() == new.probabilities([m]).argmax() for m in messages)
        print(f"classifier check: max |old - new| probability one by one {diff:.2e}, all at once {batched:.2e}, "
              f"same top intent for every message: {same_top}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained model (file or directory): also time the intent classifier")
    parser.add_argument("--old", default="HEAD", help="git revision of the old versions (default HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the texts (default 2)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts")
    parser.add_argument("--check", action="store_true", help="also compare old and new outputs")
    parser.add_argument("--skip-encoder", action="store_true")
    args = parser.parse_args(argv)

    from components import eval_texts
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    texts = eval_texts()
    if args.limit:
        texts = texts[:args.limit]
    with tempfile.TemporaryDirectory() as directory:
        if not args.skip_encoder:
            bench_encoder(module_at(args.old, ENCODER, "old_sentence_encoder", Path(directory)), texts,
                          args.rounds, args.check)
        if args.model:
            bench_classifier(module_at(args.old, CLASSIFIER, "old_intent_classifier", Path(directory)), args.model,
                             texts, args.rounds, args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
