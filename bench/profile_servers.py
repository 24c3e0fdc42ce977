"""Where the servers' time goes: py-spy samples the Rasa process and the action server while
simulated users hold the coaching conversation of bench/load.py, and the samples are grouped by
what they were doing (NLU, tracker loading and saving, policies, custom action calls, ...).

    .venv/bin/python bench/profile_servers.py                    # 10 users, 40 s of samples
    .venv/bin/python bench/profile_servers.py --users 1 --markdown   # and rewrite docs/benchmarks.md's profile

The servers are started as `make run` starts them (scripts/run.sh, own SQLite stores under
results/bench/profile-<time>/), loaded with back-to-back rounds of conversations for `--seconds`,
and stopped. py-spy (installed with the project's requirements) needs ptrace: root, or
kernel.yama.ptrace_scope 0. Output: a table on stdout; the raw samples (py-spy's "raw" format,
one collapsed stack per line, which `inferno`/`flamegraph.pl` turn into a flame graph) and the
table as JSON under results/bench/.

A sample counts towards every group whose pattern appears in its stack (innermost group first for
the "self" column), so the groups of the "in" column overlap: tracker loading contains event
deserialisation, and so on. Percentages are of the process's busy samples, every thread
included; the event loop waiting for requests is counted apart (IDLE).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import load  # noqa: E402
from compare import find_process  # noqa: E402

# (group, substrings of a frame "function (file:line)"); the first group that matches a frame
# names it, and the innermost named frame of a stack is its "self" group.
GROUPS: List[Tuple[str, Tuple[str, ...]]] = [
    ("sentence encoder (ONNX Runtime)", ("sentence_encoder.py",)),
    ("safety gate", ("safety/gate.py", "bot/safety/")),
    (
        "other NLU components",
        (
            "count_vectors_featurizer.py",
            "spacy/",
            "spacy_",
            "intent_classifier.py",
            "entity_extractor.py",
            "fallback_classifier.py",
            "regex_message_handler.py",
            "entity_synonyms.py",
        ),
    ),
    ("NLU graph (Rasa + dask)", ("_parse_message_with_graph",)),
    ("event deserialisation", ("from_parameters (", "deserialise_events (", "resolve_by_type")),
    (
        "tracker loading (SQL + replay)",
        (
            "retrieve (rasa/core/tracker_store.py",
            "_retrieve (rasa/core/tracker_store.py",
            "from_dict (rasa/shared/core/trackers.py",
            "get_or_create_tracker (",
        ),
    ),
    (
        "tracker saving (SQL)",
        ("save (rasa/core/tracker_store.py", "save (bot/stores.py", "save_tracker (", "_additional_events"),
    ),
    ("rule policy", ("rule_policy.py",)),
    ("other policy work", ("policy.py", "tracker_featurizers.py", "ensemble.py")),
    ("forms", ("forms.py", "loops.py")),
    (
        "custom action calls (HTTP, JSON)",
        (
            "run (rasa/core/actions/action.py:7",
            "_action_call_format",
            "endpoints.py",
            "_validate_action_result",
            "run (bot/rasa_ext/actions.py:",
        ),
    ),
    ("request handling, the rest (Sanic, Rasa's processor, locks)", ("sanic/http.py", "rest.py")),
    ("action server handlers (progress database)", ("bot/actions/",)),
    ("rasa_sdk", ("rasa_sdk",)),
]


# A stack whose innermost Python frame is one of these is waiting, not working: the event loop
# (uvloop's, in C below Sanic's `serve`) between requests. py-spy's own idle detection does not
# catch it on these machines. Such samples are counted apart and left out of the percentages.
IDLE = ("serve (sanic/server/runners.py",)


def group_of(frame: str) -> Optional[str]:
    for name, patterns in GROUPS:
        if any(p in frame for p in patterns):
            return name
    return None


def summarise(raw: Path) -> Dict[str, Any]:
    """Percent of samples per group (inclusive and innermost) and the top frames, from py-spy's raw output."""
    total = idle = 0
    inclusive: collections.Counter = collections.Counter()
    innermost: collections.Counter = collections.Counter()
    frames: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        stack_frames = stack.split(";")
        if stack_frames[-1].startswith(IDLE):
            idle += count
            continue
        total += count
        groups = [group_of(f) for f in stack_frames]
        for name in {g for g in groups if g}:
            inclusive[name] += count
        inner = next((g for g in reversed(groups) if g), "other")
        innermost[inner] += count
        for frame in set(stack_frames):
            frames[frame] += count
    percent = (lambda n: round(100.0 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "idle_samples": idle,
        "groups": [
            {"group": name, "in": percent(inclusive[name]), "self": percent(innermost[name])}
            for name, _ in GROUPS + [("other", ())]
            if inclusive[name] or innermost[name]
        ],
        "top_frames": [{"frame": f, "in": percent(n)} for f, n in frames.most_common(60)],
    }


async def load_rounds(urls: List[str], users: int, seconds: float) -> Dict[str, Any]:
    """Rounds of `users` conversations back to back for `seconds`; messages and errors."""
    messages = errors = rounds = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = load.make_users(users, seed=rounds)
        await load.drive(batch, urls, ramp=1.0, timeout=60.0, think=(0.0, 0.0))
        rounds += 1
        for user in batch:
            messages += len(user.samples)
            errors += user.failure is not None
    return {"rounds": rounds, "messages": messages, "errors": errors}


def profile(args: argparse.Namespace) -> Dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.out / f"profile-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    servers = load.SingleServers(out)
    servers.start()
    try:
        root = servers.servers.proc.pid
        pids = {"rasa": find_process(root, "bot.rasa_ext run"), "actions": find_process(root, "run actions")}
        asyncio.run(load_rounds(servers.urls, args.users, 5.0))  # warm-up, not sampled
        spies = {}
        for name, pid in pids.items():
            if pid is None:
                raise SystemExit(f"no {name} process under the servers (log: {servers.log})")
            spies[name] = subprocess.Popen(
                [
                    args.py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(int(args.seconds)),
                    "--format",
                    "raw",
                    "--output",
                    str(out / f"{name}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        time.sleep(1.0)
        driven = asyncio.run(load_rounds(servers.urls, args.users, args.seconds - 2))
        for name, spy in spies.items():
            _, err = spy.communicate(timeout=args.seconds + 120)
            if spy.returncode != 0 or not (out / f"{name}.txt").is_file():
                raise SystemExit(f"py-spy failed on the {name} process: {err.decode(errors='replace')[-800:]}")
    finally:
        servers.stop()
    result = {
        "machine": {**load.machine(), "commit": load._git("rev-parse", "--short", "HEAD")},
        "model": load.model_facts(),
        "date": stamp,
        "users": args.users,
        "seconds": args.seconds,
        "rate": args.rate,
        "load": driven,
        "processes": {name: summarise(out / f"{name}.txt") for name in pids},
        "raw": str(out),
    }
    (args.out / f"profile-{stamp}.json").write_text(json.dumps(result, indent=2))
    return result


def table(result: Dict[str, Any]) -> str:
    lines = []
    machine = result["machine"]
    lines.append(
        f"Profile of the servers: {result['users']} simulated users, {result['seconds']:.0f} s of py-spy samples "
        f"at {result['rate']} Hz; commit {machine.get('commit', '?')}, {machine.get('cores', '?')} cores, "
        f"{result['date']}. Load: {result['load']['messages']} messages, {result['load']['errors']} errors."
    )
    for name, title in (("rasa", "Rasa process"), ("actions", "action server")):
        summary = result["processes"][name]
        lines += [
            "",
            f"{title}: {summary['samples']} busy samples ({summary['idle_samples']} more waiting for "
            f"requests, left out), % of the busy ones",
            "",
            "| what it was doing | in (with what it calls) | self (innermost) |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {g['group']} | {g['in']:.1f} | {g['self']:.1f} |" for g in summary["groups"]]
    return "\n".join(lines)


BEGIN, END = "<!-- bench:profile:begin -->", "<!-- bench:profile:end -->"


def update_markdown(path: Path, text: str) -> None:
    document = path.read_text()
    block = f"{BEGIN}\n{text}\n\nRaw samples and frames: `{Path('results/bench')}/profile-*.json`.\n{END}"
    if BEGIN in document and END in document:
        document = document[: document.index(BEGIN)] + block + document[document.index(END) + len(END) :]
    else:
        document = document.rstrip() + "\n\n## Profile\n\n" + block + "\n"
    path.write_text(document)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10, help="concurrent simulated users (default 10)")
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of samples (default 40)")
    parser.add_argument("--rate", type=int, default=200, help="samples per second (default 200)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "bench")
    parser.add_argument("--markdown", action="store_true", help="rewrite the profile section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not args.py_spy:
        print("py-spy is not installed: run `make setup` (it is in requirements.txt)", file=sys.stderr)
        return 2
    if args.users < 1 or args.seconds < 10:
        parser.error("--users must be 1 or more and --seconds 10 or more")
    load._makefile_defaults()
    result = profile(args)
    text = table(result)
    print(text)
    if args.markdown:
        update_markdown(REPO_ROOT / "docs" / "benchmarks.md", text)
    return 1 if result["load"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
