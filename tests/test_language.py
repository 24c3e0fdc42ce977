"""Messages in other languages and other bad input at the safety component (no trained model)."""

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.safety import language
from bot.safety.gate import SAFETY_KEY, SafetyGate

SAFETY_SETS = Path(__file__).parent / "safety"
LANGUAGE_SET = yaml.safe_load((SAFETY_SETS / "language_eval.yml").read_text(encoding="utf-8"))["items"]


def english_eval_messages():
    texts = []
    for path in sorted(SAFETY_SETS.glob("*.yml")):
        if path.name == "language_eval.yml":
            continue
        texts += [item["text"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]]
    return texts


def message(text, intent="describe_conflict", confidence=0.9):
    msg = Message(data={"text": text})
    msg.set(INTENT, {"name": intent, "confidence": confidence})
    msg.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 0.05}])
    return msg


@pytest.fixture(scope="module")
def gate():
    return SafetyGate({})


def test_no_english_evaluation_message_is_read_as_another_language():
    """The safety evaluation sets (about 870 English messages, with typos and slang, none of them
    training data) must all stay in the English pipeline."""
    texts = english_eval_messages()
    assert len(texts) > 800
    misread = [t for t in texts if not language.detect(t).english]
    assert misread == []


def test_messages_in_other_languages_are_recognised():
    found = [item for item in LANGUAGE_SET if not language.detect(item["text"]).english]
    share = len(found) / len(LANGUAGE_SET)
    print(f"other languages recognised: {len(found)}/{len(LANGUAGE_SET)}")
    assert share >= 0.9


def test_danger_words_in_other_languages_get_the_hotline():
    danger = [item for item in LANGUAGE_SET if item["danger"]]
    caught = [item for item in danger if language.detect(item["text"]).danger]
    print(f"danger in other languages caught: {len(caught)}/{len(danger)}")
    assert len(caught) / len(danger) >= 0.85
    benign = [item for item in LANGUAGE_SET if not item["danger"]]
    assert [item["text"] for item in benign if language.detect(item["text"]).danger] == []


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "ok",
        "no",
        "menu",
        "UK",
        "hola",
        "😀😀😀",
        "%s %d {0}",
        "SELECT * FROM users; DROP TABLE users;--",
        '{"text": "hello"}',
        "12345",
        "Kevin wont go",
        "idk what to do anymore",
        "naa he sez no way",
    ],
)
def test_short_messages_symbols_and_slang_stay_english(text):
    assert language.detect(text).english


def test_empty_and_whitespace_messages_are_not_understood(gate):
    for text in ["", "   ", "\n\t "]:
        msg = message(text, intent="greet")
        gate.process([msg])
        assert msg.get(INTENT) == {"name": "nlu_fallback", "confidence": 1.0}


def test_another_language_gets_the_english_only_intent(gate):
    msg = message("mi novio dice que la terapia es muy cara", intent="report_objection_cost", confidence=0.7)
    gate.process([msg])
    assert msg.get(INTENT) == {"name": "non_english", "confidence": 1.0}
    assert msg.get(SAFETY_KEY)["categories"] == ["es"]


def test_danger_words_in_another_language_get_the_danger_intent(gate):
    msg = message("mi esposo me pega", intent="out_of_scope", confidence=0.6)
    gate.process([msg])
    assert msg.get(INTENT) == {"name": "non_english_danger", "confidence": 1.0}


def test_classifier_sure_of_danger_in_another_language_gets_the_hotline(gate):
    msg = message("mi novio dice que la terapia es muy cara", intent="disclose_violence", confidence=0.95)
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "non_english_danger"


def test_english_danger_wins_over_the_language_check(gate):
    msg = message("he hits me", intent="greet")
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "disclose_violence"


def test_classifier_guess_of_another_language_on_english_text_is_removed(gate):
    msg = message("we argue about money", intent="non_english", confidence=0.6)
    msg.set(
        INTENT_RANKING_KEY,
        [{"name": "non_english", "confidence": 0.6}, {"name": "describe_conflict", "confidence": 0.3}],
    )
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "describe_conflict"
    assert all(r["name"] not in language.LANGUAGE_INTENTS for r in msg.get(INTENT_RANKING_KEY))
