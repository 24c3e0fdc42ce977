"""The practice run: the bot plays a reluctant partner while the user rehearses the invitation.

The user's lines are analysed by `bot.nlp.invitation` (techniques that help, pitfalls that hurt);
`partner_turn` is a pure function from the run so far and one analysed line to the partner's
reply and, when the run is over, its outcome. The Rasa side is the `practice_form` (persona, then
one line per turn, taken as free text whatever intent NLU guesses) and `action_practice_feedback`.
Texts are data: bot/content/practice_run.yml.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import common, content
from bot.actions.common import STORE_ERRORS
from bot.nlp import invitation

logger = logging.getLogger(__name__)

MIN_TURNS = 3
MAX_TURNS = 8
NEW_TECHNIQUE = 1.0
NEEDED_TECHNIQUE = 1.0     # extra, when it is what this persona most needs to hear
PITFALL = -2.0
AGREE_AT = 4.0             # openness needed to agree to one session (with a concrete offer)
TIME_AT = 2.0              # openness needed to ask for time instead of refusing
REFUSE_AT = -4.0
OFFERS = {"test_drive", "choose_together"}   # a concrete, low-cost offer is needed to agree
STOP_WORDS = {"stop", "exit", "quit", "end", "stop practice", "stop practicing", "stop practising",
              "end practice", "stop the practice", "i want to stop", "enough", "cancel", "/stop"}
QUOTE_CHARS = 120
DONE = "__done__"

OUTCOME_AGREES = "agrees_one_session"
OUTCOME_TIME = "asks_for_time"
OUTCOME_REFUSES = "refuses"
OUTCOME_STOPPED = "stopped"


@functools.lru_cache(maxsize=1)
def data() -> Dict[str, Any]:
    with open(content.CONTENT_DIR / "practice_run.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def personas() -> Dict[str, Dict[str, Any]]:
    return data()["personas"]


def feedback_text(key: str, **values: Any) -> str:
    node: Any = data()["feedback"]
    for part in key.split("."):
        node = node[part]
    return " ".join(str(node).split()).format(**values)


def is_stop(text: str) -> bool:
    words = " ".join(str(text or "").lower().replace("!", " ").replace(".", " ").split())
    return words in STOP_WORDS


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
    opening = content.variant(personas()[persona]["opening"], sender, persona, "opening")
    return {"persona": persona, "turn": 0, "openness": 0.0, "used": {}, "pitfalls": [], "lines": 0,
            "reply": opening, "outcome": None}


def partner_turn(run: Dict[str, Any], line: str, analysis: invitation.Analysis, key: str = "") -> Dict[str, Any]:
    """The run after one user line: the partner's reply, and the outcome when it is over (pure)."""
    run = dict(run, used=dict(run["used"]), pitfalls=list(run["pitfalls"]))
    persona = personas()[run["persona"]]
    run["turn"] += 1
    quote = _quote(line)
    fresh = [t for t in analysis.techniques if t not in run["used"]]
    for technique in fresh:
        run["used"][technique] = quote
        run["openness"] += NEW_TECHNIQUE + (NEEDED_TECHNIQUE if technique in persona.get("needs", []) else 0)
    for pitfall in analysis.pitfalls:
        run["pitfalls"].append({"label": pitfall, "quote": quote})
        run["openness"] += PITFALL
    turn = run["turn"]
    if analysis.pitfalls:
        reply = content.variant(persona["lines"]["hardened"], key, turn)
    elif fresh:
        best = next((t for t in fresh if t in persona.get("needs", [])), fresh[0])
        reply = persona["hears"][best]
    elif run["openness"] >= TIME_AT:
        reply = content.variant(persona["lines"]["softening"], key, turn)
    else:
        reply = content.variant(persona["lines"]["guarded"], key, turn)
    outcome = None
    if turn >= MIN_TURNS and not analysis.pitfalls and run["openness"] >= AGREE_AT and OFFERS & set(run["used"]):
        outcome = OUTCOME_AGREES
    elif turn >= MIN_TURNS and run["openness"] <= REFUSE_AT:
        outcome = OUTCOME_REFUSES
    elif turn >= MAX_TURNS:
        outcome = OUTCOME_TIME if run["openness"] >= TIME_AT else OUTCOME_REFUSES
    if outcome:
        reply = content.variant(persona["endings"][outcome], key, turn)
    run["reply"] = reply
    run["outcome"] = outcome
    return run


def _quote(line: str) -> str:
    text = " ".join(str(line).split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3].rstrip() + "..."


def missed_techniques(run: Dict[str, Any]) -> List[str]:
    """Techniques not used, what this persona most needs first."""
    needs = personas()[run["persona"]].get("needs", [])
    order = list(needs) + [t for t in invitation.TECHNIQUES if t not in needs]
    return [t for t in order if t not in run["used"]]


def feedback(run: Dict[str, Any], previous: Optional[Dict[str, Any]] = None) -> List[str]:
    """What worked (quoting the user), what to try next (with a rewrite), steps to revisit."""
    techniques = data()["techniques"]
    pitfalls = data()["pitfalls"]
    persona_title = personas()[run["persona"]]["title"]
    messages = [feedback_text("intro"), feedback_text(f"outcome.{run['outcome'] or OUTCOME_STOPPED}", persona=persona_title)]
    worked = [feedback_text("worked", label=techniques[t]["label"], quote=q) for t, q in list(run["used"].items())[:3]]
    messages.append("\n".join(worked) if worked else feedback_text("nothing_worked"))
    steps: List[str] = []
    if run["pitfalls"]:
        first = run["pitfalls"][0]
        pitfall = pitfalls[first["label"]]
        messages.append(f'{pitfall["label"]}: "{first["quote"]}"\n'
                        + feedback_text("try_next", tip=pitfall["rewrite_tip"], rewrite=pitfall["example_rewrite"]))
        steps += [pitfalls[p["label"]]["step"] for p in run["pitfalls"]]
    missed = missed_techniques(run)
    if missed:
        messages.append(feedback_text("missed", label=techniques[missed[0]]["label"]) + " " + " ".join(techniques[missed[0]]["why"].split()))
        steps.append(techniques[missed[0]]["step"])
    if previous is not None:
        new = [t for t in run["used"] if t not in previous.get("techniques_used", [])]
        messages.append("\n".join(feedback_text("improved", label=techniques[t]["label"]) for t in new)
                        if new else feedback_text("same_as_before"))
    titles = []
    for step_id in steps:
        step = content.step_by_id(step_id)
        if step and step.title not in titles:
            titles.append(step.title)
    if titles:
        messages.append(feedback_text("revisit", step=", ".join(titles[:2])))
    return messages


# ---------------------------------------------------------------- Rasa actions
def _run(tracker: Tracker) -> Optional[Dict[str, Any]]:
    run = tracker.get_slot("practice_state")
    return run if isinstance(run, dict) and run.get("persona") in personas() else None


class ActionAskPracticePersona(Action):
    def name(self) -> Text:
        return "action_ask_practice_persona"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("requested_slot") != "practice_persona":
            dispatcher.utter_message(text=feedback_text("start"))
        lines = [feedback_text("choose_persona")]
        buttons = []
        for pid, persona in personas().items():
            lines.append(f"- {persona['title']}: {persona['description']}")
            buttons.append({"title": persona["title"], "payload": pid})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionAskPracticeLine(Action):
    """The form's "question" is the partner speaking: the reply worked out by the validation."""

    def name(self) -> Text:
        return "action_ask_practice_line"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        run = _run(tracker)
        if run is not None:
            dispatcher.utter_message(text=f"{personas()[run['persona']]['title']}: {run['reply']}")
        return []


class ValidatePracticeForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_practice_form"

    def validate_practice_persona(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        text = common.clean_text(value)
        if is_stop(text):
            # Leaving before the run started: nothing to give feedback on.
            return {"practice_persona": DONE, "practice_line": DONE, "practice_state": None}
        persona = match_persona(text)
        if persona is None:
            dispatcher.utter_message(text=content.text("practice.unclear_persona"))
            return {"practice_persona": None}
        return {"practice_persona": persona, "practice_state": new_run(persona, tracker.sender_id)}

    def validate_practice_line(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        run = _run(tracker)
        if run is None:
            return {"practice_line": DONE}
        text = common.clean_text(value, limit=1000)
        if is_stop(text):
            return {"practice_line": DONE, "practice_state": dict(run, outcome=OUTCOME_STOPPED)}
        if not text or text.startswith("/"):
            dispatcher.utter_message(text=content.text("practice.say_something"))
            return {"practice_line": None}
        analysis = invitation.analyze(text)
        run = partner_turn(run, text, analysis, key=f"{tracker.sender_id}:{run['persona']}")
        if run["outcome"]:
            dispatcher.utter_message(text=f"{personas()[run['persona']]['title']}: {run['reply']}")
            return {"practice_line": DONE, "practice_state": run}
        return {"practice_line": None, "practice_state": run}


class ActionPracticeFeedback(Action):
    """After the run: feedback, the result stored (with consent), slots cleared for the next run."""

    def name(self) -> Text:
        return "action_practice_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reset = [SlotSet("practice_state", None), SlotSet("practice_persona", None), SlotSet("practice_line", None)]
        run = _run(tracker)
        if run is None:
            dispatcher.utter_message(text=content.text("practice.left_before_start"))
            return reset
        if not run.get("outcome"):
            run = dict(run, outcome=OUTCOME_STOPPED)
        profile = common.load_profile(tracker)
        previous = profile.practice_runs[-1] if profile and profile.practice_runs else None
        for message in feedback(run, previous):
            dispatcher.utter_message(text=message)
        pitfall_ids = list(dict.fromkeys(p["label"] for p in run["pitfalls"]))
        if common.consented(tracker):
            try:
                common.store().save_practice_run(tracker.sender_id, run["persona"], run["outcome"], run["turn"],
                                                 list(run["used"]), missed_techniques(run), pitfall_ids)
            except STORE_ERRORS:
                logger.exception("progress store unavailable while saving a practice run")
                dispatcher.utter_message(text=content.text("practice.not_saved"))
        dispatcher.utter_message(
            text=content.text("practice.again"),
            buttons=[{"title": content.text("practice.button_again"), "payload": "/start_practice"},
                     {"title": content.text("step.button_menu"), "payload": "/show_menu"}],
        )
        return reset
