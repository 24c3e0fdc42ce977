"""The Rasa NLU safety component, without a trained model."""

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety.gate import SAFETY_KEY, SafetyGate


def message(text, intent="describe_conflict", confidence=0.9, ranking=None):
    msg = Message(data={TEXT: text})
    msg.set(INTENT, {"name": intent, "confidence": confidence})
    msg.set(
        INTENT_RANKING_KEY,
        ranking
        or [
            {"name": intent, "confidence": confidence},
            {"name": "nlu_fallback", "confidence": 0.05},
            {"name": "greet", "confidence": 1 - confidence - 0.05},
        ],
    )
    return msg


@pytest.fixture(scope="module")
def gate():
    return SafetyGate({})


def test_disclosure_overrides_intent_and_ranking(gate):
    msg = message("he hit me again and I'm scared", intent="greet", confidence=0.97)
    gate.process([msg])
    assert msg.get(INTENT) == {"name": "disclose_violence", "confidence": 1.0}
    ranking = msg.get(INTENT_RANKING_KEY)
    assert ranking[0] == {"name": "disclose_violence", "confidence": 1.0}
    assert all(r["confidence"] == 0.0 for r in ranking[1:])
    assert msg.get(SAFETY_KEY)["tier"] == "violence"
    assert "text" not in msg.get(SAFETY_KEY)


def test_low_confidence_does_not_matter(gate):
    """A disclosure that DIET barely understood still escalates: the fallback never sees it."""
    msg = message("i want to die", intent="greet", confidence=0.12)
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "disclose_self_harm"
    assert msg.get(INTENT)["confidence"] == 1.0


def test_benign_message_is_left_alone(gate):
    msg = message("we fight about money", confidence=0.8)
    before = dict(msg.get(INTENT))
    gate.process([msg])
    assert msg.get(INTENT) == before
    assert msg.get(SAFETY_KEY) is None


def test_an_unsure_intent_classifier_danger_reading_is_not_forced(gate):
    """Only the triage decides the safety intents: the intent classifier's own guess of one, below
    intent_alone_threshold and with no pattern or safety classifier behind it, is removed."""
    msg = message("I am scared, I guess", intent="disclose_violence", confidence=0.45)
    gate.process([msg])
    assert msg.get(INTENT)["name"] != "disclose_violence"


def test_unsure_classifier_danger_without_any_risk_word_is_demoted(gate):
    """The classifier's danger intents also fire on ordinary talk; alone, with no risk word and below
    danger_alone_min_confidence, they don't count and the next best intent stands."""
    ranking = [
        {"name": "disclose_violence", "confidence": 0.8},
        {"name": "describe_conflict", "confidence": 0.19},
        {"name": "disclose_self_harm", "confidence": 0.01},
    ]
    msg = message("he won't listen to me", intent="disclose_violence", confidence=0.8, ranking=ranking)
    gate.process([msg])
    assert msg.get(INTENT) == {"name": "describe_conflict", "confidence": 0.19}
    assert [r["name"] for r in msg.get(INTENT_RANKING_KEY)] == ["describe_conflict"]
    assert msg.get(SAFETY_KEY) is None


def test_sure_classifier_danger_counts_without_a_risk_word(gate):
    """A disclosure in plain words the patterns miss; a sure intent classifier escalates it."""
    text = "i am not ok at home, he did it again"
    assert not gate.detector.detect(text).weak_evidence and not gate.detector.detect(text).is_danger
    msg = message(text, intent="disclose_violence", confidence=0.95)
    gate.process([msg])
    assert msg.get(INTENT) == {"name": "disclose_violence", "confidence": 1.0}
    assert msg.get(SAFETY_KEY)["source"] == "intent"
    threshold = SafetyGate.get_default_config()["intent_alone_threshold"]
    below = message(text, intent="disclose_violence", confidence=threshold - 0.01)
    gate.process([below])
    assert below.get(INTENT)["name"] != "disclose_violence"


def test_sure_classifier_danger_does_not_override_an_idiom_the_patterns_excused(gate):
    text = "I'm going to hit the gym and then talk to him"
    assert gate.detector.detect(text).idiom and not gate.detector.detect(text).weak_evidence
    msg = message(text, intent="disclose_violence", confidence=0.99)
    gate.process([msg])
    assert msg.get(INTENT)["name"] != "disclose_violence"
    assert msg.get(SAFETY_KEY) is None


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "😀😀", "ملاحظة", "<script>alert(1)</script>", "x" * 20000])
def test_odd_input_never_crashes(gate, text):
    gate.process([message(text)])


def test_registered_for_the_default_recipe():
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    assert SafetyGate in DefaultV1Recipe._registered_components.values() or any(
        c.clazz is SafetyGate for c in DefaultV1Recipe._registered_components.values()
    )


def test_classifier_can_raise_a_pattern_tier_to_immediate_danger_never_lower_it(gate):
    text = "he kicked the door in"
    plain = message(text, intent="describe_conflict", confidence=0.9)
    gate.process([plain])
    pattern_tier = plain.get(SAFETY_KEY)["tier"]
    assert pattern_tier != "immediate_danger"  # the patterns alone read it as violence
    raised = message(text, intent="disclose_immediate_danger", confidence=0.6)
    gate.process([raised])
    assert raised.get(INTENT)["name"] == "disclose_immediate_danger"
    assert raised.get(SAFETY_KEY)["tier"] == "immediate_danger"
    unsure = message(text, intent="disclose_immediate_danger", confidence=0.2)
    gate.process([unsure])
    assert unsure.get(SAFETY_KEY)["tier"] == pattern_tier
    # A less urgent classifier tier never replaces what the patterns found.
    urgent = message("he has a gun and says he'll use it tonight", intent="disclose_violence", confidence=0.99)
    gate.process([urgent])
    assert urgent.get(SAFETY_KEY)["tier"] == "immediate_danger"
