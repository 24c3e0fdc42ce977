"""Per-message time of the two NumPy NLU components, old (a git revision) against new (the work tree).

The sentence encoder (bot/nlu/sentence_encoder.py) and the intent classifier
(bot/nlu/intent_classifier.py) of a git revision (default HEAD) are compared with the work
tree's on the same messages (bench/components.py's: the safety evaluation sets and the parse texts):

- encoder: `encode([text])` per message, old and new each in a process of its own (the old one's
  OpenBLAS threads keep spinning on the second core for ~0.1 s after each call, which would slow
  whatever runs next in the same process), the processes taking turns `--rounds` times;
- classifier (with --model): `process([message])` on each message as the model's own pipeline
  featurized it, old and new in one process, in random order message by message;
- pipeline (with --model --pipeline): bench/components.py run whole (every NLU node's time per
  message), once with the old two files in place of the new ones, once with the new, taking turns.

    python bench/nlu_speed.py                                   # encoder only, no model needed
    python bench/nlu_speed.py --model bot/models/reluctant-partner-coach.tar.gz --check
    python bench/nlu_speed.py --model bot/models/reluctant-partner-coach.tar.gz --pipeline --skip-encoder

`--check` also compares the outputs: the encoders on every example of bot/data/nlu one by one and
in batches of 64 (largest absolute difference), the classifiers' probabilities on every message.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

ENCODER = ("bot/nlu/sentence_encoder.py", "bot.nlu.sentence_encoder")
CLASSIFIER = ("bot/nlu/intent_classifier.py", "bot.nlu.intent_classifier")


def module_at(revision: str, path: str, name: str, directory: Path, register: bool = False) -> Any:
    """The file as it was at `revision`, imported as module `name` (Rasa's component registry left alone
    unless `register`)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout
    file = directory / (name.replace(".", "_") + ".py")
    file.write_text(source)
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    original = DefaultV1Recipe.register
    if not register:
        DefaultV1Recipe.register = lambda *a, **k: lambda cls: cls  # type: ignore[assignment]
    try:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    finally:
        DefaultV1Recipe.register = original  # type: ignore[assignment]
    return module


def nlu_examples() -> List[str]:
    texts = []
    for path in sorted((REPO_ROOT / "bot" / "data" / "nlu").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    texts.append(line.strip()[2:])
    return texts + ["", "   ", "🙂", "a " * 300]


def bench_texts(every: int) -> List[str]:
    from components import eval_texts

    return eval_texts()[::every]


def figures(values: List[float]) -> str:
    values = sorted(values)
    return (
        f"median {statistics.median(values) * 1e3:7.3f} ms  mean {statistics.fmean(values) * 1e3:7.3f} ms  "
        f"p90 {values[int(0.9 * (len(values) - 1))] * 1e3:7.3f} ms  ({len(values)} calls)"
    )


def quiet() -> None:
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.basicConfig(level=logging.WARNING)


# --- encoder: one process per variant ---------------------------------------------------------


def encoder_child(variant: str, revision: str, every: int) -> None:
    """Prints the seconds of each `encode([text])` as JSON (run by `bench_encoder` in a child process)."""
    with tempfile.TemporaryDirectory() as directory:
        if variant == "old":
            module = module_at(revision, ENCODER[0], "old_sentence_encoder", Path(directory))
        else:
            from bot.nlu import sentence_encoder as module
        encoder = module.SentenceEncoder()
        texts = bench_texts(every)
        for text in texts[:20]:  # warm-up
            encoder.encode([text])
        spent = []
        for text in texts:
            started = time.perf_counter()
            encoder.encode([text])
            spent.append(time.perf_counter() - started)
        print(json.dumps({"variant": variant, "seconds": spent}))


def bench_encoder(revision: str, rounds: int, every: int, check: bool) -> None:
    spent: Dict[str, List[float]] = {"old": [], "new": []}
    per_round: Dict[str, List[float]] = {"old": [], "new": []}
    for round_ in range(rounds):
        for variant in ["old", "new"] if round_ % 2 == 0 else ["new", "old"]:
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "encoder",
                    "--variant",
                    variant,
                    "--old",
                    revision,
                    "--every",
                    str(every),
                ],
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds = json.loads(output.strip().splitlines()[-1])["seconds"]
            spent[variant] += seconds
            per_round[variant].append(statistics.median(seconds) * 1e3)
    from bot.nlu.sentence_encoder import SentenceEncoder

    new = SentenceEncoder()
    lengths = [len(new.tokenizer.encode(t).ids) for t in bench_texts(every)]
    print(
        f"sentence encoder, encode([text]): {len(lengths)} texts (word pieces: median "
        f"{statistics.median(lengths)}, max {max(lengths)}), {rounds} rounds, each variant in its own process"
    )
    for variant, values in spent.items():
        print(
            f"  {variant:>4}: {figures(values)}; medians by round: " + ", ".join(f"{m:.2f}" for m in per_round[variant])
        )
    if check:
        with tempfile.TemporaryDirectory() as directory:
            old = module_at(revision, ENCODER[0], "old_sentence_encoder", Path(directory)).SentenceEncoder()
        examples = nlu_examples()
        single = max(float(np.abs(old.encode([t]) - new.encode([t])).max()) for t in examples)
        batched = float(np.abs(old.encode(examples) - new.encode(examples)).max())
        print(
            f"  check on {len(examples)} NLU examples: max |old - new| one by one {single:.2e}, "
            f"in batches of 64 {batched:.2e}"
        )


# --- classifier: both in one process -----------------------------------------------------------


def featurized_messages(model: str, texts: List[str]) -> tuple:
    """The trained classifier component and each text's message as the pipeline hands it to it."""
    from rasa.core.agent import Agent
    from rasa.model import get_local_model

    agent = Agent.load(get_local_model(model))
    runner = agent.processor.graph_runner
    node = next(
        n
        for name, n in runner._instantiated_nodes.items()  # noqa: SLF001
        if "SentenceIntentClassifier" in name
    )
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


def bench_classifier(revision: str, model: str, rounds: int, every: int, check: bool) -> None:
    new, messages = featurized_messages(model, bench_texts(every))
    with tempfile.TemporaryDirectory() as directory:
        old_module = module_at(revision, CLASSIFIER[0], "old_intent_classifier", Path(directory))
    old = old_module.SentenceIntentClassifier(new._config, new._model_storage, new._resource)  # noqa: SLF001
    for attribute in ("classes", "origins", "idf", "coef", "intercept"):
        setattr(old, attribute, getattr(new, attribute))
    spent = interleaved({"old": lambda m: old.process([m]), "new": lambda m: new.process([m])}, messages, rounds)
    print(
        f"intent classifier, process([message]): {len(messages)} messages, {len(new.classes)} intents, "
        f"coef {new.coef.shape}, interleaved in one process"
    )
    for variant, values in spent.items():
        print(f"  {variant:>4}: {figures(values)}")
    if check:
        one = max(float(np.abs(old.probabilities([m]) - new.probabilities([m])).max()) for m in messages)
        together = float(np.abs(old.probabilities(messages) - new.probabilities(messages)).max())
        same = all(old.probabilities([m]).argmax() == new.probabilities([m]).argmax() for m in messages)
        print(
            f"  check: max |old - new| probability one by one {one:.2e}, all at once {together:.2e}; "
            f"same top intent for every message: {same}"
        )


# --- the whole NLU pipeline: bench/components.py, old files against new --------------------------


def pipeline_child(variant: str, revision: str, model: str, output: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        if variant == "old":  # the old files under the real module names, before anything imports them
            for path, name in (ENCODER, CLASSIFIER):
                module_at(revision, path, name, Path(directory), register=True)
        import components

        components.main(["--model", model, "--json", output])


def bench_pipeline(revision: str, model: str, rounds: int) -> None:
    nodes: Dict[str, Dict[str, List[float]]] = {"old": {}, "new": {}}
    parse: Dict[str, List[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as directory:
        for round_ in range(rounds):
            for variant in ["old", "new"] if round_ % 2 == 0 else ["new", "old"]:
                output = Path(directory) / f"{variant}-{round_}.json"
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "pipeline",
                        "--variant",
                        variant,
                        "--old",
                        revision,
                        "--model",
                        model,
                        "--json",
                        str(output),
                    ],
                    cwd=REPO_ROOT,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(output.read_text())
                parse[variant].append(result["parse_ms"]["mean"])
                for name, values in result["nodes"].items():
                    nodes[variant].setdefault(name, []).append(values["ms_per_message"])
    print(f"NLU pipeline (bench/components.py, {rounds} runs each, mean ms per message; median of runs):")
    print(f"  {'parse':<60} old {statistics.median(parse['old']):8.3f}   new {statistics.median(parse['new']):8.3f}")
    for name in sorted(nodes["new"], key=lambda n: -statistics.median(nodes["new"][n])):
        if "SentenceEmbedding" in name or "SentenceIntent" in name or statistics.median(nodes["new"][name]) > 0.5:
            old = statistics.median(nodes["old"].get(name, [float("nan")]))
            print(f"  {name:<60} old {old:8.3f}   new {statistics.median(nodes['new'][name]):8.3f}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained model (file or directory): also time the intent classifier")
    parser.add_argument("--old", default="HEAD", help="git revision of the old versions (default HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each variant (default 2)")
    parser.add_argument("--every", type=int, default=1, help="use every Nth text only (default 1: all)")
    parser.add_argument("--check", action="store_true", help="also compare old and new outputs")
    parser.add_argument("--pipeline", action="store_true", help="also run bench/components.py, old and new")
    parser.add_argument("--skip-encoder", action="store_true")
    parser.add_argument("--child", choices=["encoder", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=["old", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    quiet()
    if args.child == "encoder":
        encoder_child(args.variant, args.old, args.every)
        return 0
    if args.child == "pipeline":
        pipeline_child(args.variant, args.old, args.model, args.json)
        return 0
    if not args.skip_encoder:
        bench_encoder(args.old, args.rounds, args.every, args.check)
    if args.model:
        bench_classifier(args.old, args.model, args.rounds, args.every, args.check)
        if args.pipeline:
            bench_pipeline(args.old, args.model, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
