"""The simulated partner and the feedback of a practice run (pure functions, no Rasa).

The user's lines are analysed by `bot.rehearsal.analyzer` (techniques that help, pitfalls that
hurt); `partner_turn` is a pure function from the run so far and one analysed line to the partner's
reply and, when the run is over, its outcome; `feedback` turns a finished run into what the coach
says. Texts are data: practice_run.yml beside this file. The Rasa side (the `practice_form` and
`action_practice_feedback`) is bot/actions/rehearsal.py.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import yaml

from bot.content.texts import at, variant
from bot.rehearsal import analyzer as invitation

MIN_TURNS = 3
MAX_TURNS = 8
NEW_TECHNIQUE = 1.0
NEEDED_TECHNIQUE = 1.0  # extra, when it is what this persona most needs to hear
PITFALL = -2.0
AGREE_AT = 4.0  # openness needed to agree to one session (with a concrete offer)
TIME_AT = 2.0  # openness needed to ask for time instead of refusing
REFUSE_AT = -4.0
OFFERS = {"test_drive", "choose_together"}  # a concrete, low-cost offer is needed to agree
STOP_WORDS = {
    "stop",
    "exit",
    "quit",
    "end",
    "stop practice",
    "stop practicing",
    "stop practising",
    "end practice",
    "stop the practice",
    "i want to stop",
    "enough",
    "cancel",
    "/stop",
}
QUOTE_CHARS = 160
WORKED_QUOTED = 4  # techniques quoted in the feedback; the rest are named in one line
# "hint", "any tips?", "what should I say?": help during the run, which goes on (not a partner line).
HINT_PATTERN = re.compile(
    r"^\W*(?:(?:can i (?:get|have) |give me |got |any |a |some |need |need a |i need (?:a |some )?)?"
    r"(?:hint|hints|tip|tips|help|advice|suggestion|suggestions)(?: please| pls| plz)?"
    r"|(?:i'?m|im) stuck|what (?:should|do|can) i say(?: now| next)?|what now|help me|i don'?t know what to say)\W*$"
)
# Which pitfall the partner answers first when a line has several.
REACTION_ORDER = ("ultimatum", "tricks", "labelling", "blame", "pressure", "sarcasm", "others_opinions")
DONE = "__done__"

OUTCOME_AGREES = "agrees_one_session"
OUTCOME_TIME = "asks_for_time"
OUTCOME_REFUSES = "refuses"
OUTCOME_STOPPED = "stopped"


@functools.lru_cache(maxsize=1)
def data() -> Dict[str, Any]:
    with open(Path(__file__).with_name("practice_run.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def personas() -> Dict[str, Dict[str, Any]]:
    return data()["personas"]


def feedback_text(key: str, **values: Any) -> str:
    return " ".join(str(at(data()["feedback"], key)).split()).format(**values)


def is_stop(text: str) -> bool:
    words = " ".join(str(text or "").lower().replace("!", " ").replace(".", " ").split())
    return words in STOP_WORDS


def is_hint(text: str) -> bool:
    return bool(HINT_PATTERN.match(" ".join(str(text or "").lower().split())))


def hint(run: Dict[str, Any]) -> str:
    """One hint from what the persona most needs and has not heard yet."""
    missed = missed_techniques(run)
    if not missed:
        return feedback_text("hint_none")
    return feedback_text("hint", hint=data()["hints"][missed[0]])


def _fresh(options: List[str], said: List[str], key: str, turn: int) -> Optional[str]:
    """A wording from `options` not yet said in this run (starting from the usual variant)."""
    if not options:
        return None
    first = options.index(variant(options, key, turn))
    for i in range(len(options)):
        option = options[(first + i) % len(options)]
        if option not in said:
            return option
    return None


def match_persona(text: str) -> Optional[str]:
    """A persona id from a button payload, a number, the id, or words of its title."""
    words = " ".join(str(text or "").lower().replace("_", " ").split())
    if not words:
        return None
    ids = list(personas())
    if words.isdigit() and 1 <= int(words) <= len(ids):
        return ids[int(words) - 1]
    for pid, persona in personas().items():
        if words in {pid, pid.replace("_", " "), persona["title"].lower()}:
            return pid
    for pid, persona in personas().items():
        keywords = persona.get("keywords") or []
        if any(k in words for k in keywords):
            return pid
    return None


def new_run(persona: str, sender: str) -> Dict[str, Any]:
    opening = variant(personas()[persona]["opening"], sender, persona, "opening")
    return {
        "persona": persona,
        "turn": 0,
        "openness": 0.0,
        "used": {},
        "pitfalls": [],
        "lines": 0,
        "reply": opening,
        "outcome": None,
        "said": [opening],
    }


def partner_turn(run: Dict[str, Any], line: str, analysis: invitation.Analysis, key: str = "") -> Dict[str, Any]:
    """The run after one user line: the partner's reply, and the outcome when it is over (pure)."""
    run = dict(run, used=dict(run["used"]), pitfalls=list(run["pitfalls"]), said=list(run.get("said") or []))
    persona = personas()[run["persona"]]
    run["turn"] += 1
    fresh = [t for t in analysis.techniques if t not in run["used"]]
    for technique in fresh:
        run["used"][technique] = _quote(analysis.techniques[technique])
        run["openness"] += NEW_TECHNIQUE + (NEEDED_TECHNIQUE if technique in persona.get("needs", []) else 0)
    for pitfall in analysis.pitfalls:
        run["pitfalls"].append(
            {
                "label": pitfall,
                "quote": _quote(analysis.pitfalls[pitfall]),
                "kept": [_quote(k) for k in analysis.kept[:2]],
            }
        )
        run["openness"] += PITFALL
    turn = run["turn"]
    said = run["said"]
    # The partner answers what was just said: the worst pitfall, else the technique it most needed,
    # else its mood; never a line already said in this run.
    pools: List[List[str]] = []
    if analysis.pitfalls:
        worst = min(analysis.pitfalls, key=lambda p: REACTION_ORDER.index(p) if p in REACTION_ORDER else 99)
        pools += [data()["pitfalls"][worst].get("reactions") or [], persona["lines"]["hardened"]]
    elif fresh:
        ordered = sorted(fresh, key=lambda t: t not in persona.get("needs", []))
        pools += [[persona["hears"][t]] for t in ordered]
    mood = "softening" if run["openness"] >= TIME_AT else "guarded"
    pools += [
        persona["lines"][mood],
        persona["lines"]["guarded" if mood == "softening" else "softening"],
        persona["lines"]["hardened"],
    ]
    reply = next(
        (r for r in (_fresh(pool, said, key, turn) for pool in pools) if r),
        variant(persona["lines"][mood], key, turn),
    )
    outcome = None
    if turn >= MIN_TURNS and not analysis.pitfalls and run["openness"] >= AGREE_AT and OFFERS & set(run["used"]):
        outcome = OUTCOME_AGREES
    elif turn >= MIN_TURNS and run["openness"] <= REFUSE_AT:
        outcome = OUTCOME_REFUSES
    elif turn >= MAX_TURNS:
        outcome = OUTCOME_TIME if run["openness"] >= TIME_AT else OUTCOME_REFUSES
    if outcome:
        reply = variant(persona["endings"][outcome], key, turn)
    run["reply"] = reply
    run["outcome"] = outcome
    said.append(reply)
    return run


def _quote(line: str) -> str:
    """The user's words in full, or cut at a word and marked when longer than QUOTE_CHARS."""
    text = " ".join(str(line).split())
    if len(text) <= QUOTE_CHARS:
        return text
    cut = text[:QUOTE_CHARS].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + " \u2026"


def missed_techniques(run: Dict[str, Any]) -> List[str]:
    """Techniques not used, what this persona most needs first."""
    needs = personas()[run["persona"]].get("needs", [])
    order = list(needs) + [t for t in invitation.TECHNIQUES if t not in needs]
    return [t for t in order if t not in run["used"]]


def better_line(pitfall: Dict[str, Any]) -> str:
    """A better line built from what the user said: the sentences of that line that did no harm,
    then the pitfall's example of what to say instead."""
    example = data()["pitfalls"][pitfall["label"]]["example_rewrite"]
    kept = [k for k in pitfall.get("kept") or [] if not k.endswith("\u2026")]
    return " ".join([*(k if k[-1:] in ".!?" else k + "." for k in kept), example])


def feedback(
    run: Dict[str, Any],
    previous: Optional[Dict[str, Any]] = None,
    step_title: Callable[[str], Optional[str]] = lambda step_id: None,
) -> List[str]:
    """Most important first: what hurt (quoted once, why, a better line built from the user's words),
    what worked (one line per technique, each quote shown once), one thing to add, steps to revisit."""
    techniques = data()["techniques"]
    pitfalls = data()["pitfalls"]
    persona_title = personas()[run["persona"]]["title"]
    messages = [
        feedback_text("intro"),
        feedback_text(f"outcome.{run['outcome'] or OUTCOME_STOPPED}", persona=persona_title),
    ]
    quoted: List[str] = []
    steps: List[str] = []
    distinct = list({p["label"]: p for p in reversed(run["pitfalls"])}.values())[::-1]  # first time each
    for pitfall in distinct[:2]:
        info = pitfalls[pitfall["label"]]
        why = " ".join(info["why"].split())
        lines = [
            feedback_text(
                "pitfall_same_line" if pitfall["quote"] in quoted else "pitfall",
                label=info["label"],
                quote=pitfall["quote"],
                why=why,
            ),
            feedback_text("better_line", short=info["short"], rewrite=better_line(pitfall)),
        ]
        quoted.append(pitfall["quote"])
        messages.append("\n".join(lines))
        steps.append(info["step"])
    if len(distinct) > 2:
        messages.append(
            feedback_text(
                "more_pitfalls", labels=", ".join(pitfalls[p["label"]]["label"].lower() for p in distinct[2:])
            )
        )
    worked = []
    used = list(run["used"].items())
    for technique, quote in used[:WORKED_QUOTED]:
        label = techniques[technique]["label"]
        worked.append(
            feedback_text("worked_same_line", label=label)
            if quote in quoted
            else feedback_text("worked", label=label, quote=quote)
        )
        quoted.append(quote)
    if used[WORKED_QUOTED:]:
        worked.append(
            feedback_text(
                "worked_also", labels=", ".join(techniques[t]["label"].lower() for t, _ in used[WORKED_QUOTED:])
            )
        )
    messages.append("\n".join(worked) if worked else feedback_text("nothing_worked"))
    missed = missed_techniques(run)
    if missed:
        messages.append(
            feedback_text("missed", label=techniques[missed[0]]["label"])
            + " "
            + " ".join(techniques[missed[0]]["why"].split())
        )
        steps.append(techniques[missed[0]]["step"])
    if previous is not None:
        new = [t for t in run["used"] if t not in previous.get("techniques_used", [])]
        messages.append(
            "\n".join(feedback_text("improved", label=techniques[t]["label"]) for t in new)
            if new
            else feedback_text("same_as_before")
        )
    titles = []
    for step_id in steps:
        title = step_title(step_id)
        if title and title not in titles:
            titles.append(title)
    if titles:
        messages.append(feedback_text("revisit", step=", ".join(titles[:2])))
    return messages
