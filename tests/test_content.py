"""Content as data: hotlines, generated escalation replies, coaching steps and their sources."""
import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.actions import content
from bot.content import hotlines

SEEDS = {"000_ac6763a220440955.txt", "001_7345b2fad58c8d51.txt", "002_ce9224962432a027.txt",
         "003_03e196ffe17c578a.txt", "004_045da85a41f7b346.txt"}
ARTICLE_STEPS = ["accountability", "commitment", "homework", "budget", "rule_out_violence", "positive_tone",
                 "good_time", "test_drive", "choose_therapist", "gender", "stigma", "alternatives", "evaluate_progress"]


def test_every_region_has_emergency_dv_and_crisis_entries_with_source_and_date():
    data = hotlines.load()
    assert set(data["regions"]) == {"US", "UK", "CA", "AU", "IE"}
    assert data["default_region"] == "US"
    for region in data["regions"].values():
        for category in ("emergency", "domestic_violence", "suicide_crisis"):
            for entry in region[category]:
                assert entry["source"] and isinstance(entry["checked"], (str, dt.date))


def test_escalation_replies_in_the_domain_match_the_hotline_file():
    assert hotlines.is_up_to_date(), "run `make hotlines`"


def _variations(domain, name):
    return {(v.get("condition") or [{"value": "US"}])[0]["value"]: v["text"] for v in domain["responses"][name]}


def test_us_default_numbers(domain):
    violence = _variations(domain, "utter_escalate_violence")["US"]
    assert "1-800-799-7233" in violence and "text START to 88788" in violence and "911" in violence
    assert "988" in _variations(domain, "utter_escalate_self_harm")["US"]
    immediate = _variations(domain, "utter_escalate_immediate_danger")["US"]
    assert immediate.index("911") < immediate.index("1-800-799-7233"), "the emergency number comes first"
    assert "1-800-422-4453" in _variations(domain, "utter_escalate_child_at_risk")["US"]


@pytest.mark.parametrize("region, emergency, dv, crisis", [
    ("UK", "999", "0808 2000 247", "116 123"), ("CA", "911", "sheltersafe", "988"),
    ("AU", "000", "1800 737 732", "13 11 14"), ("IE", "112", "1800 341 900", "116 123"),
    ("other", "local emergency number", "helpline", "crisis line"),
])
def test_each_region_gets_its_own_numbers(domain, region, emergency, dv, crisis):
    assert emergency in _variations(domain, "utter_escalate_violence")[region]
    assert dv in _variations(domain, "utter_escalate_violence")[region]
    assert crisis in _variations(domain, "utter_escalate_self_harm")[region]


def test_every_escalation_tier_has_a_variation_per_region(domain):
    for name in ("utter_escalate_immediate_danger", "utter_escalate_violence", "utter_escalate_self_harm",
                 "utter_escalate_child_at_risk", "utter_individual_support", "utter_hotline_reminder"):
        assert set(_variations(domain, name)) == {"US", "UK", "CA", "AU", "IE", "other"}


def test_stale_entries_are_listed_not_failed():
    data = hotlines.load()
    assert hotlines.stale_entries(data, today=dt.date(2026, 12, 1)) == []
    stale = hotlines.stale_entries(data, today=dt.date(2027, 12, 1))
    assert any("National Domestic Violence Hotline" in line for line in stale)


def test_the_menu_has_every_step_of_the_articles_in_order():
    assert [s.id for s in content.steps()] == ARTICLE_STEPS


def test_steps_are_traceable_to_an_article():
    raw = yaml.safe_load((content.CONTENT_DIR / "steps.yml").read_text())
    for step in raw["steps"]:
        assert step["source"] in SEEDS, step["id"]
        assert set(step.get("also") or []) <= SEEDS, step["id"]
    readme = (content.CONTENT_DIR / "README.md").read_text()
    for step_id in ARTICLE_STEPS:
        assert f"| {step_id} |" in readme, f"{step_id} missing from the content map"


def test_working_steps_explain_ask_and_acknowledge():
    for step in content.steps():
        if step.available:
            assert len(step.explain) >= 2 and step.question and step.acknowledge, step.id
            assert all("saved" not in a.lower() for a in step.acknowledge), "the bot says 'saved' only when true"
    assert [s.id for s in content.steps() if s.available] == ["accountability", "commitment", "homework", "budget"]


def test_partner_steps_are_marked_as_the_partner_path():
    for step in content.steps():
        assert step.partner_path == (step.group == "with_partner"), step.id


def test_message_templates_have_their_placeholders():
    assert "{title}" in content.messages()["step"]["saved"]
    assert content.text("step.saved", acknowledge="A.", title="B") == 'A. I\'ve saved your answer and marked "B" as done.'
