"""Hotline data: loading, staleness check, and the escalation responses generated from it.

The escalation replies must not depend on the action server, so they are domain responses with a
conditional variation per `region` slot value. They are generated from the numbers in hotlines.yml
and the texts in escalation_texts.yml into a marked block of domain.yml:

    python -m bot.safety.hotlines generate   # rewrite the block (make hotlines)
    python -m bot.safety.hotlines check      # exit 1 if domain.yml is out of date
    python -m bot.safety.hotlines stale      # list entries not re-checked for 180 days
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
HOTLINES_FILE = HERE / "hotlines.yml"
TEXTS_FILE = HERE / "escalation_texts.yml"
DOMAIN_FILE = HERE.parents[1] / "domain.yml"
BEGIN = "  # BEGIN GENERATED escalation responses (python -m bot.safety.hotlines generate)\n"
END = "  # END GENERATED escalation responses\n"
STALE_AFTER_DAYS = 180


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


# The regions the bot has numbers for, in the file's order: the one list of them (the region buttons
# in domain.yml and the practice settings' check are tested against it).
REGIONS = tuple(load()["regions"])


def region_name(code: str) -> str:
    """The region as a sentence names it: "the United States", "Canada"..."""
    return load()["regions"][code]["name"]


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


@functools.lru_cache(maxsize=1)
def templates() -> Dict[str, Any]:
    """escalation_texts.yml: the replies, their shared parts and their buttons."""
    with open(TEXTS_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _texts(region: Optional[Dict[str, Any]], unknown: Dict[str, str]) -> Dict[str, str]:
    """The reply of each tier for one region (None: a region the bot has no numbers for)."""
    if region is None:
        own = f"- {unknown['own_behaviour'].capitalize()}."
        values = {
            "emergency": unknown["emergency"],
            "dv": f"- {unknown['domestic_violence'].capitalize()}.",
            "crisis": f"- {unknown['suicide_crisis'].capitalize()}.",
            "dv_one": unknown["domestic_violence"],
            "crisis_one": unknown["suicide_crisis"],
        }
        child: List[Dict[str, Any]] = []
    else:
        own = _lines(region.get("own_behaviour") or []) or f"- {unknown['own_behaviour'].capitalize()}."
        values = {
            "emergency": region["emergency"][0]["contact"],
            "dv": _lines(region["domestic_violence"]),
            "crisis": _lines(region["suicide_crisis"]),
            "dv_one": _first(region["domestic_violence"]),
            "crisis_one": _first(region["suicide_crisis"]),
        }
        child = region.get("child_abuse") or []
    data = templates()
    parts = data["parts"]
    values["own"] = own
    values["no_partner"] = parts["no_partner"]
    for name in ("child_at_risk", "child_lines", "for_the_child"):
        values[name] = parts[name].format(child=_lines(child), child_one=_first(child)) if child else ""
    return {name: template.format(**values) for name, template in data["replies"].items()}


# The generated replies that carry hotlines (the Slack channel's privacy note goes before them).
SAFETY_RESPONSES = frozenset(templates()["replies"])
# Buttons of the generated responses.
BUTTONS: Dict[str, List[Dict[str, str]]] = templates().get("buttons") or {}


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
