"""Button titles typed as text get the button's payload (bot/nlu/button_titles.py)."""

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.button_titles import ButtonTitleMatcher, build_index, collect_buttons


@pytest.fixture(scope="module")
def matcher():
    return ButtonTitleMatcher()


def parsed(matcher, text, intent="describe_conflict"):
    msg = Message(data={TEXT: text})
    msg.set(INTENT, {"name": intent, "confidence": 0.4})
    msg.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 0.4}])
    matcher.process([msg])
    return msg.get(INTENT)["name"], {e["entity"]: e["value"] for e in msg.get(ENTITIES) or []}


@pytest.mark.parametrize(
    "text, intent, entities",
    [
        ("On your own", "show_menu", {"group": "on_your_own"}),
        ("on your own!", "show_menu", {"group": "on_your_own"}),
        ("Yes, delete everything", "affirm", {}),
        ("No, don't store anything", "deny", {}),
        ("Start: Offer a test drive", "start_step", {"step": "test_drive"}),
        ("offer a test drive", "start_step", {"step": "test_drive"}),
        ("United Kingdom", "inform_region", {"region": "UK"}),
        ("Support for me", "ask_individual_support", {}),
        ("what's next", "what_next", {}),
        ("Not sure", "unsure", {}),
    ],
)
def test_a_typed_button_title_gets_its_payload(matcher, text, intent, entities):
    assert parsed(matcher, text) == (intent, entities)


@pytest.mark.parametrize("text", ["yes, he's a good man, just stubborn", "on your own terms", "/affirm", "hello"])
def test_other_messages_are_left_alone(matcher, text):
    assert parsed(matcher, text) == ("describe_conflict", {})


def test_a_title_with_two_meanings_is_left_out():
    index = build_index([("Go", "/affirm"), ("Go", "/deny"), ("Stay", "/deny"), ("Stay", "/deny")])
    assert "go" not in index and index["stay"] == ("deny", {})


def test_every_step_and_menu_group_can_be_typed():
    titles = {t for t, _ in collect_buttons()}
    assert {"On your own", "Why your partner says no", "Start: Offer a test drive"} <= titles
