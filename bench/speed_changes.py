"""Are the speed changes to Rasa's internals (bot/rasa_ext) worth their upkeep?

Runs bench/load.py (servers started by scripts/run.sh on free ports, users through full coaching
conversations) alternately with RASA_EXT_SPEED=on and off, and prints the median of each figure
per setting. The fixes in bot/rasa_ext are installed in both.

    .venv/bin/python bench/speed_changes.py --rounds 3 --users 10 [--each]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

REPO_ROOT = Path(__file__).resolve().parents[1]
# bot/rasa_ext's speed changes, by name (RASA_EXT_SPEED=without:<name>); not imported, as bench/
# measures the product from outside.
SPEED_CHANGES = ("validate_responses_once", "keep_action_connections", "cache_every_rule_state")
FIGURES = ("p50", "p95", "mean")


def one_run(setting: str, users: int, out: Path) -> Dict:
    before = set(out.glob("load-*.json"))
    subprocess.run(
        [sys.executable, "bench/load.py", "--start", "single", "--users", str(users), "--out", str(out), "--seed", "7"],
        cwd=REPO_ROOT,
        env={**os.environ, "RASA_EXT_SPEED": setting},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (new,) = set(out.glob("load-*.json")) - before
    return json.loads(new.read_text(encoding="utf-8"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="runs per setting, alternated (default 3)")
    p.add_argument("--users", type=int, default=10, help="simulated users per run (default 10)")
    p.add_argument("--each", action="store_true", help="also leave out each speed change alone")
    args = p.parse_args()
    settings = ["on", "off"] + ([f"without:{name}" for name in SPEED_CHANGES] if args.each else [])
    runs: Dict[str, List[Dict]] = {setting: [] for setting in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for setting in settings if round_ % 2 == 0 else settings[::-1]:
                result = one_run(setting, args.users, Path(tmp))
                runs[setting].append(result)
                lat = result["latency_ms"]
                print(
                    f"round {round_ + 1} RASA_EXT_SPEED={setting}: p50 {lat['p50']} ms  p95 {lat['p95']} ms  "
                    f"{result['messages_per_second']} msg/s  errors {result['errors']['total']}",
                    flush=True,
                )
    print(f"\nmedian of {args.rounds} runs, {args.users} users, bench/load.py (ratio: setting / on)\n")
    print("| RASA_EXT_SPEED | p50 ms | p95 ms | mean ms | messages/s | p50 ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base = statistics.median(r["latency_ms"]["p50"] for r in runs["on"])
    for setting in settings:
        lat = {f: statistics.median(r["latency_ms"][f] for r in runs[setting]) for f in FIGURES}
        rate = statistics.median(r["messages_per_second"] for r in runs[setting])
        print(
            f"| {setting} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['mean']:.1f} | {rate:.2f} | {lat['p50'] / base:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
