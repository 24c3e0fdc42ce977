"""Hotline data: loading, staleness check, and the escalation responses generated from it.

The escalation replies must not depend on the action server, so they are domain responses with a
conditional variation per `region` slot value. They are generated from hotlines.yml into a marked
block of domain.yml:

    python -m bot.safety.hotlines generate   # rewrite the block (make hotlines)
    python -m bot.safety.hotlines check      # exit 1 if domain.yml is out of date
    python -m bot.safety.hotlines stale      # list entries not re-checked for 180 days
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
HOTLINES_FILE = HERE / "hotlines.yml"
DOMAIN_FILE = HERE.parents[1] / "domain.yml"
BEGIN = "  # BEGIN GENERATED escalation responses (python -m bot.safety.hotlines generate)\n"
END = "  # END GENERATED escalation responses\n"
STALE_AFTER_DAYS = 180
REGIONS = ("US", "UK", "CA", "AU", "IE")


def load(path: Path = HOTLINES_FILE) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    for code, region in data["regions"].items():
        for category in ("emergency", "domestic_violence", "suicide_crisis"):
            if not region.get(category):
                raise ValueError(f"hotlines: region {code} has no {category} entry")
        # child_abuse and own_behaviour may be empty; every entry, of any category, needs all four.
        for category, entries in region.items():
            for entry in entries if isinstance(entries, list) else []:
                for key in ("name", "contact", "source", "checked"):
                    if not entry.get(key):
                        raise ValueError(f"hotlines: {code}/{category} entry lacks {key}")
    for key in ("emergency", "domestic_violence", "suicide_crisis", "own_behaviour"):
        if not data.get("unknown_region", {}).get(key):
            raise ValueError(f"hotlines: unknown_region lacks {key}")
    return data


def stale_entries(data: Dict[str, Any], today: Optional[dt.date] = None, days: int = STALE_AFTER_DAYS) -> List[str]:
    """Entries whose `checked` date is older than `days` (for a warning, never a failure)."""
    today = today or dt.date.today()
    stale = []
    for code, region in data["regions"].items():
        for category, entries in region.items():
            if not isinstance(entries, list):
                continue
            for entry in entries:
                checked = entry["checked"]
                if isinstance(checked, str):
                    checked = dt.date.fromisoformat(checked)
                if (today - checked).days > days:
                    stale.append(f"{code} {category}: {entry['name']} (last checked {checked})")
    return stale


def _lines(entries: List[Dict[str, Any]]) -> str:
    return "\n".join(f"- {e['name']}: {e['contact']}" for e in entries)


def _first(entries: List[Dict[str, Any]]) -> str:
    """One line for one service: the first entry's name and contact."""
    return f"{entries[0]['name']}: {entries[0]['contact']}"


NO_PARTNER = (
    "Because of what you shared, I won't coach you to bring your partner into couples "
    "therapy: where there is abuse, joint sessions can make things more dangerous. "
    "I can help you find support just for you."
)


def _texts(region: Optional[Dict[str, Any]], unknown: Dict[str, str]) -> Dict[str, str]:
    """The reply of each tier for one region (None: a region the bot has no numbers for)."""
    if region is None:
        emergency = unknown["emergency"]
        dv = f"- {unknown['domestic_violence'].capitalize()}."
        crisis = f"- {unknown['suicide_crisis'].capitalize()}."
        child = ""
        dv_one = unknown["domestic_violence"]
        crisis_one = unknown["suicide_crisis"]
        own = f"- {unknown['own_behaviour'].capitalize()}."
    else:
        emergency = region["emergency"][0]["contact"]
        dv = _lines(region["domestic_violence"])
        crisis = _lines(region["suicide_crisis"])
        child = _lines(region.get("child_abuse") or [])
        dv_one = _first(region["domestic_violence"])
        crisis_one = _first(region["suicide_crisis"])
        own = _lines(region.get("own_behaviour") or []) or f"- {unknown['own_behaviour'].capitalize()}."
    texts = {
        "utter_escalate_immediate_danger": (
            f"Your safety comes first. If you are in danger right now: {emergency}.\n"
            f"When you can, these people can help, free and confidentially:\n{dv}\n"
            f"If you are thinking about ending your life:\n{crisis}\n"
            + (f"If a child is at risk:\n{child}\n" if child else "")
            + "I'm a coaching bot: I can't call anyone for you and no one reads this in real time."
        ),
        "utter_escalate_violence": (
            "Thank you for telling me. What you describe is not your fault, and you deserve to "
            "be safe.\n"
            f"You can talk to someone now, free and confidentially:\n{dv}\n"
            f"If you are in danger right now: {emergency}.\n{NO_PARTNER}"
        ),
        "utter_escalate_self_harm": (
            "I'm really glad you told me. You deserve support right now, from a person.\n"
            f"{crisis}\n"
            f"If you might act on these thoughts or you are in danger: {emergency}.\n"
            "I'm a coaching bot, not a crisis service, and no one reads this in real time."
        ),
        "utter_escalate_child_at_risk": (
            "Thank you for telling me. A child's safety comes first.\n"
            f"If a child is in danger right now: {emergency}.\n"
            + (f"{child}\n" if child else "")
            + f"For you, free and confidential:\n{dv}\n{NO_PARTNER}"
        ),
        # Two quiet signs (in one message, over the conversation, or after a worrying screening
        # answer): coercive control, named once, kindly.
        "utter_escalate_control": (
            "Thank you for telling me. Being watched, having the money controlled or being cut off "
            "from the people you love, together, is called coercive control. It isn't ordinary "
            "conflict, and it isn't your fault.\n"
            "You don't have to leave, or be sure it's abuse, to call a helpline: they talk with people "
            f"at every stage, free and confidentially:\n{dv}\n"
            f"If you are in danger right now: {emergency}.\n{NO_PARTNER}"
        ),
        # A new disclosure after the full reply was shown in this conversation: short, with the line.
        "utter_disclosure_ack_immediate_danger": (
            f"Thank you for telling me. If you are in danger right now: {emergency}. When you can: {dv_one}."
        ),
        "utter_disclosure_ack_violence": (
            "Thank you for telling me this too. It matters, and it isn't your fault. "
            f"When you want to talk it through with a person: {dv_one}. In danger right now: {emergency}."
        ),
        "utter_disclosure_ack_self_harm": (
            f"I'm glad you said so. Please reach a person now: {crisis_one}. "
            f"If you might act on these thoughts: {emergency}."
        ),
        "utter_disclosure_ack_child_at_risk": (
            f"Thank you for telling me. If a child is in danger right now: {emergency}. "
            + (f"For the child: {_first(region['child_abuse'])}. " if region and region.get("child_abuse") else "")
            + f"For you: {dv_one}."
        ),
        # The check-in's question: plain, with one quiet line (the form asks it: safety_checkin_form).
        "utter_ask_feels_safe_with_partner": (
            "Can I ask you plainly: do you feel safe with your partner?\n"
            f"(If you'd ever like to talk to someone: {dv_one}.)"
        ),
        # Someone describing their own violence or control: no blame, no victim script.
        "utter_own_violence": (
            "Thank you for being honest about this. It takes courage, and wanting to change matters.\n"
            "What you describe can frighten or hurt a partner, so help for you comes first, before "
            "couples therapy: joint sessions aren't recommended while there is violence or fear in a "
            "relationship. These lines talk with people worried about their own behaviour, "
            f"confidentially:\n{own}\n"
            "A therapist can also see you on your own; ask the practice for someone who works with "
            "people who want to stop using violence or control.\n"
            f"If anyone is in danger right now: {emergency}."
        ),
        "utter_why_no_couples_therapy": (
            "Because of what you told me, I don't coach you to bring your partner into couples "
            "therapy. Where there is abuse or fear, joint sessions can make things more dangerous: "
            "what is said in the room can be punished at home, and domestic-violence services, such "
            "as the US National Domestic Violence Hotline, advise against couples counselling where "
            "there is abuse.\n"
            "What you can do instead: see a counsellor on your own, talk it through with a helpline, "
            "and come back to couples work later, if things are safe, with a therapist who sees each "
            f"of you on your own first.\n{dv}"
        ),
        "utter_individual_support": (
            "Here is support that is just for you:\n"
            "- A therapist experienced in domestic violence can see you on your own; ask the "
            "practice for one.\n"
            f"{dv}\n"
            "- Safety planning: think about a safe place to go, a trusted person who knows a "
            "code word, and keeping important documents and a charged phone where you can reach "
            "them. The hotline can help you make a plan; keep it in your head or with someone "
            "you trust rather than written on a shared device.\n"
            f"If you are in danger right now: {emergency}."
        ),
        # A message in another language with danger words the bot knows (bot/safety/language.py).
        "utter_english_only_danger": (
            "Sorry, I can only read English for now, but I can see you may not be safe.\n"
            f"If you are in danger right now: {emergency}.\n"
            f"Free, confidential help:\n{dv}\n"
            f"If you are thinking about ending your life:\n{crisis}"
        ),
        "utter_hotline_reminder": (f"If you ever feel unsafe, {emergency}, or reach out to:\n{dv}"),
    }
    return texts


# The generated replies that carry hotlines (the Slack channel's privacy note goes before them).
SAFETY_RESPONSES = frozenset(
    _texts(None, {"emergency": "", "domestic_violence": "", "suicide_crisis": "", "own_behaviour": ""})
)
# Buttons of the generated responses.
BUTTONS = {
    "utter_ask_feels_safe_with_partner": [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
        {"title": "Not sure", "payload": "/unsure"},
    ],
}


def render_block(data: Dict[str, Any]) -> str:
    """The YAML of the generated responses, indented for the `responses:` section."""
    per_region = {code: _texts(data["regions"][code], data["unknown_region"]) for code in data["regions"]}
    per_region["other"] = _texts(None, data["unknown_region"])
    default = data["default_region"]
    out = [BEGIN]
    for name in per_region[default]:
        variations = []
        for code in list(data["regions"]) + ["other"]:
            if code == default:
                continue
            variations.append(
                {
                    "condition": [{"type": "slot", "name": "region", "value": code}],
                    "text": per_region[code][name],
                    **({"buttons": BUTTONS[name]} if name in BUTTONS else {}),
                }
            )
        # The unconditioned variation is the default region's (the slot's initial value).
        variations.append(
            {"text": per_region[default][name], **({"buttons": BUTTONS[name]} if name in BUTTONS else {})}
        )
        dumped = yaml.safe_dump({name: variations}, sort_keys=False, allow_unicode=True, width=1000)
        out.extend("  " + line + "\n" for line in dumped.rstrip("\n").split("\n"))
    out.append(END)
    return "".join(out)


def _splice(domain_text: str, block: str) -> str:
    if BEGIN not in domain_text or END not in domain_text:
        raise ValueError("domain.yml lacks the generated-block markers")
    head, rest = domain_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def generate(domain_file: Path = DOMAIN_FILE) -> bool:
    text = domain_file.read_text(encoding="utf-8")
    new = _splice(text, render_block(load()))
    if new != text:
        domain_file.write_text(new, encoding="utf-8")
        return True
    return False


def is_up_to_date(domain_file: Path = DOMAIN_FILE) -> bool:
    text = domain_file.read_text(encoding="utf-8")
    return _splice(text, render_block(load())) == text


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "generate":
        print("domain.yml updated" if generate() else "domain.yml already up to date")
        return 0
    if command == "check":
        ok = is_up_to_date()
        print("escalation responses up to date" if ok else "domain.yml is stale: run `make hotlines`")
        return 0 if ok else 1
    if command == "stale":
        stale = stale_entries(load())
        for line in stale:
            print(f"re-check: {line}")
        if not stale:
            print(f"all hotline entries checked within {STALE_AFTER_DAYS} days")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
