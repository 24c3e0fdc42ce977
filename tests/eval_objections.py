"""What the partner said, as real people write it: `make eval` (first part) or `make eval-objections`.

Drives the trained bot (with a running action server, scripts/with_actions.sh) through every unit
of a split of the real objection corpus (docs/data.md, labelled by docs/objection-labelling-guide.md)
typed by an onboarded user at the menu, and judges the topic of the reply from the actions that
answered it:

- an objection (`cost`, `refusal`, ...) is on topic when `utter_objection_<label>` answered it;
- good news (`good_news`) when `action_good_news` answered it;
- a practical question (`q_find`, ...) when the practical answer `utter_practical/<kind>` did
  (ALSO_ON_TOPIC lists the close answers that count too: an LGBTQ-affirming search for `q_find`);
- a passage the labellers flagged for safety is also on topic when the bot gave a safety reply
  (an escalation or a check-in): there, safety comes first.

"strict" counts the main label only; "main or second" also accepts the passage's second label
(two objections in one message: the bot answers one and offers the other). The target (issue 18)
is 85% strict on objections, on the test split. Passages labelled `none` (stories, other topics)
are reported as how often they got an objection answer.

    python -m tests.eval_objections                 # the test split: look once per change
    python -m tests.eval_objections --split dev     # the development split, for tuning
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
SPLITS = {
    "train": REPO_ROOT / "bot" / "corpus" / "objections" / "train.jsonl",
    "dev": REPO_ROOT / "bot" / "corpus" / "objections" / "dev.jsonl",
    "test": REPO_ROOT / "tests" / "objections" / "real_test.jsonl",
}
OBJECTIONS = (
    "cost",
    "no_time",
    "therapist_gender",
    "stigma",
    "distrust",
    "stranger",
    "blame",
    "your_problem",
    "no_problem",
    "fix_ourselves",
    "bad_experience",
    "hopeless",
    "separation_fear",
    "make_worse",
    "secrets",
    "religious",
    "refusal",
)
SAFETY_PREFIXES = ("utter_escalate_", "utter_own_violence", "utter_disclosure_ack")
CHECK_IN_MARKERS = ("check_in", "checkin")
TARGET = 0.85


def load_split(name_or_path: str) -> List[Dict[str, Any]]:
    path = SPLITS.get(name_or_path, Path(name_or_path))
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# The replies that answer a label on topic.
ALSO_ON_TOPIC = {
    "good_news": ("utter_practical/only_once",),  # "only once" is a partial yes
    "q_find": ("utter_practical/lgbtq", "utter_practical/language"),
    "q_cost": ("utter_practical/insurance",),
    "q_insurance": ("utter_practical/cost",),
    "q_make_worse": ("utter_objection_make_worse",),
    "q_sides": ("utter_objection_blame",),
}


def topic_of(label: str) -> Tuple[str, ...]:
    """The actions or responses that answer a label on topic."""
    if label in OBJECTIONS:
        main = f"utter_objection_{label}"
    elif label == "good_news":
        main = "action_good_news"
    elif label.startswith("q_"):
        main = f"utter_practical/{label[2:]}"
    else:
        return ()
    return (main,) + ALSO_ON_TOPIC.get(label, ())


def answered(actions: Sequence[str], label: str) -> bool:
    wanted = topic_of(label)
    return any(a in wanted for a in actions)


def safety_reply(actions: Sequence[str]) -> bool:
    return any(a.startswith(SAFETY_PREFIXES) or any(m in a for m in CHECK_IN_MARKERS) for a in actions)


def topics(actions: Sequence[str]) -> List[str]:
    """A readable list of what the reply was about, for the misses."""
    shown = [
        a
        for a in actions
        if a.startswith(
            ("utter_objection_", "utter_practical", "action_good_news", "utter_escalate_", "action_default", "utter_")
        )
        or "check" in a
    ]
    return shown or list(actions)


async def _actions_of_turn(agent, sender: str, text: str) -> List[str]:
    await agent.handle_text(text, sender_id=sender)
    tracker = await agent.tracker_store.retrieve(sender)
    names: List[str] = []
    for event in reversed(tracker.events):
        if event.type_name == "user":
            break
        if event.type_name == "action" and event.action_name and event.action_name != "action_listen":
            names.append(event.action_name)
        if event.type_name == "bot":
            # The response a custom action sent (its name is in the message's metadata).
            sent = (getattr(event, "metadata", None) or {}).get("utter_action")
            if sent and sent not in names:
                names.append(sent)
        if event.type_name == "active_loop" and getattr(event, "name", None):
            names.append(event.name)
    return list(reversed(names))


async def run(agent, units: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.safety_harness import ONBOARDING_NEGATIVE, conversation

    start, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    events = list((await agent.tracker_store.retrieve(start)).events)
    judged = []
    for unit in units:
        sender = f"obj-{uuid.uuid4().hex[:12]}"
        tracker = DialogueStateTracker.from_events(sender, copy.deepcopy(events), slots=agent.domain.slots)
        await agent.tracker_store.save(tracker)
        actions = await _actions_of_turn(agent, sender, unit["text"])
        judged.append({**unit, "actions": actions})
    return judged


def figures(judged: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    def ok(unit: Dict[str, Any], lenient: bool) -> bool:
        labels = [unit["main"]] + ([unit["second"]] if lenient and unit.get("second") else [])
        if any(answered(unit["actions"], label) for label in labels):
            return True
        return bool(unit.get("safety")) and safety_reply(unit["actions"])

    def share(name, units, test):
        hits = [u for u in units if test(u)]
        return {
            "name": name,
            "n": len(units),
            "hits": len(hits),
            "rate": round(len(hits) / len(units), 4) if units else None,
            "misses": [u for u in units if not test(u)],
        }

    objections = [u for u in judged if u["main"] in OBJECTIONS]
    good = [u for u in judged if u["main"] == "good_news"]
    practical = [u for u in judged if u["main"].startswith("q_")]
    none = [u for u in judged if u["main"] == "none"]
    rows = [
        share("objections: right topic (strict)", objections, lambda u: ok(u, False)),
        share("objections: right topic (main or second)", objections, lambda u: ok(u, True)),
        share(
            "objections, one-line messages (<= 25 words): strict",
            [u for u in objections if len(u["text"].split()) <= 25],
            lambda u: ok(u, False),
        ),
        share(
            "objections, long messages (> 25 words): strict",
            [u for u in objections if len(u["text"].split()) > 25],
            lambda u: ok(u, False),
        ),
        share("good news: celebrated with next steps", good, lambda u: ok(u, False)),
        share("practical questions: right answer", practical, lambda u: ok(u, True)),
        share(
            "no objection (stories, other topics): got an objection answer",
            none,
            lambda u: any(a.startswith("utter_objection_") for a in u["actions"]),
        ),
    ]
    return {row["name"]: row for row in rows}


def report(judged: Sequence[Dict[str, Any]], show: int) -> Dict[str, Any]:
    rows = figures(judged)
    print(f"\n{len(judged)} passages")
    for name, row in rows.items():
        if row["rate"] is None:
            continue
        target = ""
        if name == "objections: right topic (strict)":
            target = f"target >= {TARGET:.0%}: {'met' if row['rate'] >= TARGET else 'MISSED'}"
        print(f"  {name:62} {row['rate']:7.1%} ({row['hits']}/{row['n']})  {target}")
    by_label: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    strict = rows["objections: right topic (strict)"]
    missed_ids = {u["id"] for u in strict["misses"]}
    for unit in judged:
        if unit["main"] in OBJECTIONS:
            by_label[unit["main"]][1] += 1
            by_label[unit["main"]][0] += unit["id"] not in missed_ids
    print("  by objection: " + ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(by_label.items())))
    for unit in strict["misses"][:show]:
        print(f"    missed [{unit['main']}] -> {', '.join(topics(unit['actions']))[:80]}: {unit['text'][:120]}")
    summary = {name: {k: row[k] for k in ("n", "hits", "rate")} for name, row in rows.items()}
    summary["by_objection"] = {k: {"hits": h, "n": n} for k, (h, n) in sorted(by_label.items())}
    summary["answers_to_none"] = dict(
        Counter(
            next((a for a in u["actions"] if a.startswith("utter_objection_")), "no objection answer")
            for u in judged
            if u["main"] == "none"
        )
    )
    return summary


async def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", help="train, dev, test or a path to a JSON-lines file")
    parser.add_argument(
        "--show",
        type=int,
        default=None,
        help="misses to print (default 20, and none for the test split: its passages stay unseen)",
    )
    parser.add_argument("--out", default=str(REPO_ROOT / "results" / "eval_objections.json"))
    parser.add_argument("--model", default=str(REPO_ROOT / "bot/models/reluctant-partner-coach.tar.gz"))
    args = parser.parse_args(argv)

    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    url = os.environ.get("ACTION_ENDPOINT_URL", "http://localhost:5055/webhook")
    agent = Agent.load(args.model, action_endpoint=EndpointConfig(url=url))
    judged = await run(agent, load_split(args.split))
    summary = report(judged, args.show if args.show is not None else (0 if args.split == "test" else 20))
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "split": args.split,
                "summary": summary,
                "units": [{k: u[k] for k in ("id", "main", "second", "safety", "actions")} for u in judged],
            },
            indent=1,
        )
    )
    print(f"\nwritten to {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")


if __name__ == "__main__":
    asyncio.run(main())
