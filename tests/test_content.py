"""Content as data: hotlines, generated escalation replies, coaching steps and their sources."""

import datetime as dt

import pytest
import yaml

from bot.coaching import curriculum
from bot.safety import hotlines

SEEDS = {
    "000_ac6763a220440955.txt",
    "001_7345b2fad58c8d51.txt",
    "002_ce9224962432a027.txt",
    "003_03e196ffe17c578a.txt",
    "004_045da85a41f7b346.txt",
}
ARTICLE_STEPS = [
    "accountability",
    "commitment",
    "homework",
    "budget",
    "rule_out_violence",
    "positive_tone",
    "good_time",
    "test_drive",
    "choose_therapist",
    "gender",
    "stigma",
    "alternatives",
    "evaluate_progress",
]
# From the other articles: why partners say no (002), going alone (003), the partner and the
# user's own therapy (000), different stages of healing (004).
OTHER_STEPS = [
    "why_partners_refuse",
    "invite_without_blame",
    "therapy_for_one",
    "therapist_fit",
    "personal_goals",
    "tell_partner",
    "involve_partner",
    "partner_attitudes",
    "different_stages",
]
OBJECTIONS = [
    "cost",
    "stigma",
    "blame",
    "your_problem",
    "stranger",
    "fix_ourselves",
    "bad_experience",
    "hopeless",
    "refusal",
    "therapist_gender",
    "no_time",
    "separation_fear",
    # found in real people's words (docs/data.md), beyond the articles' first twelve
    "no_problem",
    "distrust",
    "religious",
    "secrets",
    "make_worse",
]
PHONE_MESSAGE_CHARS = 450


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


@pytest.mark.parametrize(
    "region, emergency, dv, crisis",
    [
        ("UK", "999", "0808 2000 247", "116 123"),
        ("CA", "911", "sheltersafe", "988"),
        ("AU", "000", "1800 737 732", "13 11 14"),
        ("IE", "112", "1800 341 900", "116 123"),
        ("other", "local emergency number", "helpline", "crisis line"),
    ],
)
def test_each_region_gets_its_own_numbers(domain, region, emergency, dv, crisis):
    assert emergency in _variations(domain, "utter_escalate_violence")[region]
    assert dv in _variations(domain, "utter_escalate_violence")[region]
    assert crisis in _variations(domain, "utter_escalate_self_harm")[region]


def test_every_escalation_tier_has_a_variation_per_region(domain):
    for name in (
        "utter_escalate_immediate_danger",
        "utter_escalate_violence",
        "utter_escalate_self_harm",
        "utter_escalate_child_at_risk",
        "utter_individual_support",
        "utter_hotline_reminder",
        "utter_english_only_danger",
    ):
        assert set(_variations(domain, name)) == {"US", "UK", "CA", "AU", "IE", "other"}


def test_stale_entries_are_listed_not_failed():
    data = hotlines.load()
    assert hotlines.stale_entries(data, today=dt.date(2026, 12, 1)) == []
    stale = hotlines.stale_entries(data, today=dt.date(2027, 12, 1))
    assert any("National Domestic Violence Hotline" in line for line in stale)


def test_the_menu_has_every_step_of_the_articles_in_order():
    assert [s.id for s in curriculum.steps()] == ARTICLE_STEPS + OTHER_STEPS
    assert {s.group for s in curriculum.steps()} == set(curriculum.GROUPS)


def test_steps_are_traceable_to_an_article():
    raw = yaml.safe_load((curriculum.COACHING_DIR / "steps.yml").read_text())
    for step in raw["steps"]:
        assert step["source"] in SEEDS, step["id"]
        assert set(step.get("also") or []) <= SEEDS, step["id"]
    readme = (curriculum.COACHING_DIR / "README.md").read_text()
    for step_id in ARTICLE_STEPS + OTHER_STEPS:
        assert f"| {step_id} |" in readme, f"{step_id} missing from the content README"


def test_every_step_is_coached_for_real():
    """No stub: each step explains (in phone-sized messages), asks one question and acknowledges."""
    for step in curriculum.steps():
        if step.status == curriculum.STATUS_SCREEN:
            continue
        assert step.available, f"{step.id} is not coached"
        assert 2 <= len(step.explain) <= 3 and len(step.question) == 2 and len(step.acknowledge) == 2, step.id
        assert all(len(m) <= 300 for m in step.explain), step.id
        assert all("saved" not in a.lower() for a in step.acknowledge), "the bot says 'saved' only when true"


def test_only_budget_and_the_screen_stay_open_after_a_violence_flag():
    assert [s.id for s in curriculum.steps() if s.open_after_flag] == ["budget", "rule_out_violence"]


def test_every_domain_response_is_in_the_content_map(domain):
    """An advice-giving response names an article; everything else says what it is instead."""
    cmap = yaml.safe_load((curriculum.COACHING_DIR / "content_map.yml").read_text())
    objections = curriculum.objections()
    for name in domain["responses"]:
        if name.startswith("utter_objection_") and name.removeprefix("utter_objection_") in objections:
            sources = objections[name.removeprefix("utter_objection_")]["source"]
        elif name in cmap["advice"]["responses"]:
            sources = cmap["advice"]["responses"][name]
        else:
            assert cmap["not_advice"].get(name) in {"safety", "product"}, f"{name} is missing from the content map"
            continue
        assert sources and set(sources) <= SEEDS, f"{name} names no (existing) article"
    for key, sources in cmap["advice"]["messages"].items():
        assert key in curriculum.messages() and sources and set(sources) <= SEEDS, key
    for name in list(cmap["advice"]["responses"]) + list(cmap["not_advice"]):
        assert name in domain["responses"], f"content map lists {name}, which the domain lacks"


def test_objection_answers_match_their_content_and_offer_their_steps(domain):
    objections = curriculum.objections()
    assert list(objections) == OBJECTIONS
    for key, entry in objections.items():
        assert entry["intent"] == f"report_objection_{key}" and entry["intent"] in domain["intents"]
        (variant,) = domain["responses"][f"utter_objection_{key}"]
        assert variant["text"] == " ".join(entry["text"].split()), key
        assert len(variant["text"]) <= PHONE_MESSAGE_CHARS, key
        # Domain payloads double their braces: Rasa's response interpolation reads {x} as a slot.
        offered = [b["payload"].replace("{{", "{").replace("}}", "}") for b in variant["buttons"]]
        assert offered == ['/start_step{"step": "%s"}' % s for s in entry["steps"]], key
        assert all(curriculum.step_by_id(s) for s in entry["steps"]), key


def test_every_practical_answer_has_a_source_and_fits_a_phone(domain):
    """utter_practical/<key>: named in the content map (an article, or the practice's settings where
    the articles are silent) and in the README's table of sources."""
    cmap = yaml.safe_load((curriculum.COACHING_DIR / "content_map.yml").read_text())
    readme = (curriculum.COACHING_DIR / "README.md").read_text()
    keys = [name.split("/", 1)[1] for name in domain["responses"] if name.startswith("utter_practical/")]
    assert {
        "cost",
        "insurance",
        "find",
        "lgbtq",
        "language",
        "online",
        "first_session",
        "how_long",
        "confidential",
        "own_therapist",
        "how_to_ask",
        "angry",
        "make_worse",
        "sides",
        "only_once",
        "why_now",
    } <= set(keys)
    for key in keys:
        name = f"utter_practical/{key}"
        assert name in cmap["advice"]["responses"] or name in cmap["not_advice"], name
        assert f"| {key} |" in readme, key
        for variant in domain["responses"][name]:
            assert len(variant["text"]) <= PHONE_MESSAGE_CHARS, name
    # Where the articles are silent, the answer says so and points to the practice.
    assert "articles don't cover" in domain["responses"]["utter_practical/online"][0]["text"]


# The six screening items at once, as a list (474 characters): one message, so that its buttons
# ("None of these", "Yes, one or more", "Not sure") follow the whole list.
LONGER_ON_PURPOSE = {"utter_ask_screen_all"}


def test_replies_fit_a_phone_screen(domain):
    for name, variants in domain["responses"].items():
        if name.startswith("utter_escalate_") or name in hotlines.SAFETY_RESPONSES or name in LONGER_ON_PURPOSE:
            continue  # hotline lists: complete beats short
        for variant in variants:
            assert len(variant.get("text", "")) <= PHONE_MESSAGE_CHARS, name


def test_message_templates_have_their_placeholders():
    assert "{title}" in curriculum.messages()["step"]["saved"]
    assert (
        curriculum.text("step.saved", acknowledge="A.", title="B")
        == 'A. I\'ve saved your answer and marked "B" as done.'
    )


def test_every_list_of_regions_is_the_hotline_files(domain):
    """hotlines.yml is the one list of regions: the region buttons and the practice settings'
    check follow it (a region added there without its button would never be chosen)."""
    import re

    from bot.content import practice

    regions = list(hotlines.REGIONS)
    assert regions == ["US", "UK", "CA", "AU", "IE"]
    for name in ("utter_ask_region", "utter_choose_region"):
        payloads = [b["payload"] for b in domain["responses"][name][0]["buttons"]]
        assert [re.search(r'"region": "(\w+)"', p).group(1) for p in payloads] == regions + ["other"], name
    assert list(practice.REGIONS) == regions + ["other"]
    assert hotlines.region_name("UK") == "the United Kingdom"
