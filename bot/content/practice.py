"""The practice's settings (practice.yml): loaded once, validated with errors that name the field.

python -m bot.content.practice check    # exit 1 with the bad field's name on a broken file
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent / "practice.yml"
REGIONS = ("US", "UK", "CA", "AU", "IE", "other")
RATE_NAMES = ("consultation", "couples_session", "individual_session")


class PracticeSettingsError(ValueError):
    """A missing or invalid field in the practice settings; the message names the field."""


@dataclass(frozen=True)
class Practice:
    name: str
    region: str
    currency_symbol: str
    booking_link: str
    contact: str
    rates: Dict[str, float]
    typical_sessions: int
    insurance_notes: str
    insurer_questions: Tuple[str, ...]

    def money(self, amount: float) -> str:
        return f"{self.currency_symbol}{amount:,.0f}"


def settings_path() -> Path:
    return Path(os.environ.get("PRACTICE_SETTINGS") or DEFAULT_PATH)


def _text(raw: Dict[str, Any], field: str, where: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise PracticeSettingsError(f"{where}: practice.{field} must be a non-empty text, got {value!r}")
    return " ".join(value.split())


def _positive(value: Any, field: str, where: str, integer: bool = False) -> Any:
    ok_type = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value <= 0:
        kind = "a positive whole number" if integer else "a positive number"
        raise PracticeSettingsError(f"{where}: practice.{field} must be {kind}, got {value!r}")
    return value


def parse(data: Any, where: str = "practice settings") -> Practice:
    """Validate the parsed YAML; raise PracticeSettingsError naming the first bad field."""
    if not isinstance(data, dict) or not isinstance(data.get("practice"), dict):
        raise PracticeSettingsError(f"{where}: the file must have a top-level 'practice:' section")
    raw = data["practice"]
    region = raw.get("region")
    if region not in REGIONS:
        raise PracticeSettingsError(f"{where}: practice.region must be one of {', '.join(REGIONS)}, got {region!r}")
    link = _text(raw, "booking_link", where)
    if not link.startswith(("https://", "http://")):
        raise PracticeSettingsError(f"{where}: practice.booking_link must start with https:// or http://, got {link!r}")
    rates_raw = raw.get("rates")
    if not isinstance(rates_raw, dict):
        raise PracticeSettingsError(f"{where}: practice.rates must list {', '.join(RATE_NAMES)}")
    rates = {name: float(_positive(rates_raw.get(name), f"rates.{name}", where)) for name in RATE_NAMES}
    questions = raw.get("insurer_questions")
    if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip() for q in questions):
        raise PracticeSettingsError(f"{where}: practice.insurer_questions must be a non-empty list of questions")
    return Practice(
        name=_text(raw, "name", where),
        region=region,
        currency_symbol=_text(raw, "currency_symbol", where),
        booking_link=link,
        contact=_text(raw, "contact", where),
        rates=rates,
        typical_sessions=_positive(raw.get("typical_sessions"), "typical_sessions", where, integer=True),
        insurance_notes=_text(raw, "insurance_notes", where),
        insurer_questions=tuple(" ".join(q.split()) for q in questions),
    )


def load_from(path: Path) -> Practice:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise PracticeSettingsError(f"{path}: cannot read the practice settings ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PracticeSettingsError(f"{path}: not valid YAML ({exc})") from exc
    return parse(data, str(path))


@functools.lru_cache(maxsize=1)
def load() -> Practice:
    return load_from(settings_path())


def main(argv: List[str]) -> int:
    if argv != ["check"]:
        print("usage: python -m bot.content.practice check", file=sys.stderr)
        return 2
    try:
        practice = load_from(settings_path())
    except PracticeSettingsError as exc:
        print(f"practice settings error: {exc}", file=sys.stderr)
        return 1
    print(f"practice settings ok: {practice.name} ({settings_path()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
