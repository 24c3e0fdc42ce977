"""Where NLU parse time goes: each graph node's time per message, in-process, on a trained model.

Loads the model as Rasa's server does (`Agent.load`), times every node of the prediction graph
that runs while a message is parsed (tokenizers, featurizers, classifiers, this bot's safety gate,
the fallback), and parses every message of the texts given: by default this bot's safety
evaluation sets (tests/safety/*.yml, 872 messages, danger and ordinary) and bench/compare.py's
parse texts. The first 20 parses are warm-up and not counted.

    python bench/components.py --model bot/models/reluctant-partner-coach.tar.gz
    python bench/components.py --model <rasa init project>/models --json out.json

The safety component's figure is "the safety component alone": its own `process` call, nothing
that runs before it (the issue's target: under 1 ms per message).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List

REPO_ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20
# Messages both NLU pipelines parse (bench/compare.py too): a mix of each bot's domain, so neither is favoured.
PARSE_TEXTS = [
    "hello",
    "hi there",
    "good morning",
    "bye",
    "see you later",
    "yes",
    "no",
    "of course",
    "never",
    "I am feeling great",
    "I'm so sad today",
    "I am very unhappy",
    "are you a bot?",
    "am I talking to a human?",
    "my partner won't come to couples therapy",
    "my husband says therapy is for crazy people",
    "she says we can't afford counselling",
    "he is too busy with work for weekly sessions",
    "what should I do next?",
    "show my progress",
    "how do we choose a therapist together?",
    "I want to go to therapy alone",
    "can we practise the conversation?",
    "I'd like to start over",
    "my wife thinks the therapist will take my side",
    "he says our problems are my fault",
    "we tried counselling before and it was a waste of time",
    "I don't want a stranger in our business",
    "what's the best time to bring it up?",
    "I live in the United Kingdom",
    "delete my data",
    "I tend to shut down when we argue, and next time I'd like to stay in the conversation.",
    "We could set aside a small amount each month and check what our insurance pays.",
    "thanks, that was helpful",
    "that didn't help at all",
    "I am not sure what you mean",
]


def eval_texts() -> List[str]:
    import yaml

    texts: List[str] = []
    for path in sorted((REPO_ROOT / "tests" / "safety").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += [item["text"] for item in data.get("items", []) if isinstance(item, dict) and item.get("text")]
    return texts + PARSE_TEXTS


def timed(fn: Callable, name: str, spent: Dict[str, List[float]], counting: List[bool]) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if counting[0]:
                spent[name].append(time.perf_counter() - started)

    return wrapper


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model file, or a directory (its newest model)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    from rasa.core.agent import Agent
    from rasa.model import get_local_model
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    texts = eval_texts()
    started = time.perf_counter()
    agent = Agent.load(get_local_model(args.model))
    load_s = time.perf_counter() - started
    runner = agent.processor.graph_runner
    spent: Dict[str, List[float]] = defaultdict(list)
    counting = [False]
    for name, node in runner._instantiated_nodes.items():  # noqa: SLF001 (Rasa has no public hook for this)
        node._fn = timed(node._fn, name, spent, counting)
    totals: List[float] = []
    for i, text in enumerate(texts[:WARM_UP] + texts):
        counting[0] = i >= WARM_UP
        begin = time.perf_counter()
        agent_parse(agent, text)
        if counting[0]:
            totals.append(time.perf_counter() - begin)
    n = len(totals)
    nodes = {
        name: {
            "ms_per_message": round(sum(values) / n * 1000, 4),
            "median_ms": round(statistics.median(values) * 1000, 4),
            "max_ms": round(max(values) * 1000, 3),
            "calls": len(values),
        }
        for name, values in spent.items()
        if values
    }
    safety = {k: v for k, v in nodes.items() if "SafetyGate" in k}
    result = {
        "model": str(args.model),
        "messages": n,
        "load_s": round(load_s, 2),
        "parse_ms": {
            "mean": round(statistics.fmean(totals) * 1000, 3),
            "median": round(statistics.median(totals) * 1000, 3),
            "p95": round(sorted(totals)[int(0.95 * (n - 1))] * 1000, 3),
        },
        "nodes": dict(sorted(nodes.items(), key=lambda kv: -kv[1]["ms_per_message"])),
        "safety_component_ms_per_message": (
            round(sum(v["ms_per_message"] for v in safety.values()), 4) if safety else None
        ),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"{n} messages, parse mean {result['parse_ms']['mean']} ms, median {result['parse_ms']['median']} ms, "
        f"p95 {result['parse_ms']['p95']} ms (model load {result['load_s']} s)"
    )
    for name, figures in result["nodes"].items():
        print(f"  {figures['ms_per_message']:>9.3f} ms/message  {name}")
    return 0


_loop = None


def agent_parse(agent: Any, text: str) -> Any:
    """One event loop for every parse, as in the server."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(agent.parse_message(text))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
