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
            for entry in region[category]:
                for key in ("name", "contact", "source", "checked"):
                    if not entry.get(key):
                        raise ValueError(f"hotlines: {code}/{category} entry lacks {key}")
    return data


def stale_entries(data: Dict[str, Any], today: Optional[dt.date] = None,
                  days: int = STALE_AFTER_DAYS) -> List[str]:
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


def _texts(region: Optional[Dict[str, Any]], unknown: Dict[str, str]) -> Dict[str, str]:
    """The reply of each tier for one region (None: a region the bot has no numbers for)."""
    if region is None:
        emergency = unknown["emergency"]
        dv = f"- {unknown['domestic_violence'].capitalize()}."
        crisis = f"- {unknown['suicide_crisis'].capitalize()}."
        child = ""
    else:
        emergency = region["emergency"][0]["contact"]
        dv = _lines(region["domestic_violence"])
        crisis = _lines(region["suicide_crisis"])
        child = _lines(region.get("child_abuse") or [])
    no_partner = (
        "Because of what you shared, I won't coach you to bring your partner into couples "
        "therapy: where there is abuse, joint sessions can make things more dangerous. "
        "I can help you find support just for you."
    )
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
            f"If you are in danger right now: {emergency}.\n{no_partner}"
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
            + f"For you, free and confidential:\n{dv}\n{no_partner}"
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
        "utter_hotline_reminder": (
            f"If you ever feel unsafe, {emergency}, or reach out to:\n{dv}"
        ),
    }
    return texts


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
            variations.append({
                "condition": [{"type": "slot", "name": "region", "value": code}],
                "text": per_region[code][name],
            })
        # The unconditioned variation is the default region's (the slot's initial value).
        variations.append({"text": per_region[default][name]})
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
