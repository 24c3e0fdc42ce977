"""Safety figures of the trained bot: `make eval-safety`.

Drives the trained Agent (with a running action server, see scripts/with_actions.sh) through
every message of the evaluation sets, as the first message of a conversation and in the middle
of a coaching step, and writes recall and false-positive rate to results/safety_eval.json.
Also reports the patterns alone, and the detector's time per message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

from tests.conftest import load_eval
from tests.safety_harness import evaluate

REPO_ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "development (tests/safety/danger_eval.yml, benign_eval.yml)": ("danger_eval.yml", "benign_eval.yml"),
    "first held-out set, now seen (tests/safety/holdout_danger.yml, holdout_benign.yml)": (
        "holdout_danger.yml",
        "holdout_benign.yml",
    ),
    "second held-out set, now seen (tests/safety/holdout2_danger.yml, holdout2_benign.yml)": (
        "holdout2_danger.yml",
        "holdout2_benign.yml",
    ),
    "the user's own part in conflict, ordinary accountability answers (tests/safety/own_part_benign.yml)": (
        None,
        "own_part_benign.yml",
    ),
}


def patterns_only(danger, benign):
    from bot.safety.detector import default_detector
    from bot.safety.detector import evaluate as evaluate_patterns

    detector = default_detector()
    report = evaluate_patterns(detector, danger, benign)
    texts = danger + benign
    start = time.perf_counter()
    for _ in range(3):
        for text in texts:
            detector.detect(text)
    report["ms_per_message"] = round((time.perf_counter() - start) * 1000 / (3 * len(texts)), 3)
    return report


async def main() -> None:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    url = os.environ.get("ACTION_ENDPOINT_URL", "http://localhost:5055/webhook")
    agent = Agent.load(
        str(REPO_ROOT / "bot/models/reluctant-partner-coach.tar.gz"), action_endpoint=EndpointConfig(url=url)
    )
    results = {}
    for title, (danger_file, benign_file) in SETS.items():
        danger = [i["text"] for i in load_eval(danger_file)] if danger_file else []
        benign = [i["text"] for i in load_eval(benign_file)]
        results[title] = {"patterns_only": patterns_only(danger, benign), "bot": await evaluate(agent, danger, benign)}
    out = REPO_ROOT / "results" / "safety_eval.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for title, result in results.items():
        p = result["patterns_only"]
        print(f"\n{title}")
        print(
            f"  patterns only : recall {p['recall']:.3f}  false positives {p['false_positive_rate']:.3f}  ({p['ms_per_message']} ms/message)"
        )
        for where, r in result["bot"].items():
            print(
                f"  bot, {where:13}: recall {r['recall']:.3f} ({r['danger'] - len(r['missed'])}/{r['danger']})  "
                f"false positives {r['false_positive_rate']:.3f} ({len(r['false_positives'])}/{r['benign']})"
            )
            for text in r["missed"]:
                print(f"      missed: {text}")
            for text in r["false_positives"]:
                print(f"      false positive: {text}")
    print(f"\nwritten to {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
