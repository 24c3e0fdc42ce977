"""The triage (escalate / check in / own violence / continue), the safety classifier, the answers to
the safety questions and the generated safety rules, without a trained Rasa model."""

from pathlib import Path

import numpy as np
import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety import answers, rules, triage
from bot.safety.classifier import LABELS, SafetyClassifier, corpus_label
from bot.safety.detector import default_detector
from bot.safety.gate import KIND_ENTITY, SAFETY_KEY, SafetyGate


@pytest.fixture(scope="module")
def detector():
    return default_detector()


def probs(**values):
    out = {label: 0.0 for label in LABELS}
    out.update(values)
    out["none"] = max(0.0, 1 - sum(v for k, v in out.items() if k != "none"))
    return out


def test_patterns_escalate_whatever_the_classifier_says(detector):
    decision = triage.decide(detector.detect("he strangled me last night"), probs(none=1.0), "greet", 0.99)
    assert decision.outcome == triage.ESCALATE and decision.tier == "immediate_danger"
    assert decision.intent == "disclose_immediate_danger" and "strangulation" in decision.kinds


def test_the_classifier_escalates_what_the_patterns_miss(detector):
    result = detector.detect("the night of the party he left me bleeding on the kitchen floor")
    assert result.weak_evidence  # a risk word ("bleeding")
    decision = triage.decide(result, probs(violence=0.8), "describe_situation", 0.5)
    assert decision.outcome == triage.ESCALATE and decision.source in ("patterns", "classifier")


def test_without_a_risk_word_the_classifier_must_be_very_sure(detector):
    result = detector.detect("he won't listen to me")
    assert not result.weak_evidence and not result.tier
    assert triage.decide(result, probs(immediate=0.8), "describe_conflict", 0.4).outcome == triage.CONTINUE
    assert triage.decide(result, probs(immediate=0.95), "describe_conflict", 0.4).outcome == triage.ESCALATE


def test_a_classifier_reading_can_raise_a_tier_never_lower_it(detector):
    result = detector.detect("he hit me")
    assert triage.decide(result, probs(immediate=0.5)).tier == "immediate_danger"
    assert triage.decide(detector.detect("he choked me"), probs(violence=0.9)).tier == "immediate_danger"


def test_one_quiet_sign_checks_in_and_two_kinds_are_coercive_control(detector):
    one = triage.decide(detector.detect("he checks my phone every night"), probs(), "describe_conflict", 0.6)
    assert one.outcome == triage.CHECK_IN and one.kinds == ("monitoring",) and one.intent == "disclose_warning_sign"
    two = triage.decide(detector.detect("he checks my phone and controls all the money"), probs())
    assert two.outcome == triage.COERCIVE_CONTROL and two.intent == "disclose_coercive_control"


def test_the_writers_own_violence_gets_its_own_outcome(detector):
    decision = triage.decide(detector.detect("i punched a wall next to her, is that a problem for therapy?"), probs())
    assert decision.outcome == triage.OWN and decision.intent == "disclose_own_violence"


@pytest.mark.parametrize("text", ["he would never hit me, he's just stubborn", "I don't think he would ever hurt me"])
def test_a_negated_risk_word_needs_a_very_sure_classifier(detector, text):
    result = detector.detect(text)
    assert result.idiom and not result.tier
    assert triage.decide(result, probs(violence=0.7)).outcome == triage.CONTINUE
    assert triage.decide(result, probs(violence=0.98)).outcome == triage.ESCALATE


def test_a_confident_coaching_reading_keeps_the_classifier_from_checking_in(detector):
    result = detector.detect("i'm afraid he'll say no")
    assert triage.decide(result, probs(sign=0.8), "report_objection_refusal", 0.8).outcome == triage.CONTINUE
    assert triage.decide(result, probs(sign=0.8), "describe_conflict", 0.8).outcome == triage.CHECK_IN


def test_a_risk_word_never_gets_the_ordinary_conflict_reply(detector):
    result = detector.detect("he gets angry and i get scared when i bring it up")
    decision = triage.decide(result, probs(sign=0.5), "describe_conflict", 0.9)
    assert decision.outcome in (triage.CHECK_IN, triage.ESCALATE, triage.COERCIVE_CONTROL)


def test_corpus_labels_map_to_classes():
    assert corpus_label({"label": "explicit", "tier": "violence"}) == "violence"
    assert corpus_label({"label": "explicit", "tier": "violence", "perpetrator": True}) == "own"
    assert corpus_label({"label": "explicit", "tier": "child", "perpetrator": True}) == "child"
    assert corpus_label({"label": "indirect", "kind": "money"}) == "sign"
    assert corpus_label({"label": "idiom"}) == "none"


def _toy_classifier():
    rng = np.random.default_rng(0)
    texts = (
        ["he hit me hard", "he beat me up", "he slapped my face"] * 4
        + ["he checks my phone", "he controls the money", "he reads my messages"] * 4
        + ["we argue about chores", "he forgot my birthday", "she is always late"] * 4
    )
    labels = ["violence"] * 12 + ["sign"] * 12 + ["none"] * 12
    vectors = rng.normal(size=(len(texts), 8))
    return SafetyClassifier.train(texts, vectors, labels), texts, vectors


def test_classifier_gives_the_same_probabilities_after_saving_and_loading(tmp_path: Path):
    classifier, texts, vectors = _toy_classifier()
    before = classifier.probabilities(texts, vectors)
    classifier.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    after = SafetyClassifier.load(tmp_path).probabilities(texts, vectors)
    assert np.allclose(before, after)
    assert before[0].argmax() == LABELS.index("violence") and before[-1].argmax() == LABELS.index("none")


def _message(text, intent, confidence):
    msg = Message(data={TEXT: text})
    msg.set(INTENT, {"name": intent, "confidence": confidence})
    msg.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 0.01}])
    return msg


def test_the_gate_names_a_quiet_sign_and_keeps_a_privacy_question(detector):
    gate = SafetyGate({}, detector)
    msg = _message("my husband checks my phone every night", "describe_conflict", 0.7)
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "disclose_warning_sign"
    assert [e["value"] for e in msg.get(ENTITIES) if e["entity"] == KIND_ENTITY] == ["monitoring"]
    question = _message("he checks my phone, how do i make sure he doesnt see this chat?", "ask_device_safety", 0.9)
    gate.process([question])
    assert question.get(INTENT)["name"] == "ask_device_safety"
    assert question.get(SAFETY_KEY)["outcome"] == "check_in"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yes", answers.YES),
        ("Yep", answers.YES),
        ("yes, he's a good man honestly, just stubborn", answers.YES),
        ("no", answers.NO),
        ("nah", answers.NO),
        ("no he's never done that", answers.NO),
        ("not really", answers.NO),
        ("sometimes", answers.UNSURE),
        ("idk", answers.UNSURE),
        ("i guess", answers.UNSURE),
        ("mostly", answers.UNSURE),
        ("yes sometimes", answers.UNSURE),
        ("what do you mean", None),
        ("menu", None),
    ],
)
def test_only_a_clear_answer_counts(text, expected):
    assert answers.read(None, text) == expected


def test_feels_safe_in_words():
    assert answers.read_feels_safe(None, "i don't feel safe") == answers.NO
    assert answers.read_feels_safe(None, "I feel safe with him") == answers.YES
    assert answers.read_feels_safe("unsure", "/unsure") == answers.UNSURE
    assert answers.read_feels_safe("deny", "i would rather not say") is None  # a typed answer is read, not its intent


def test_the_safety_rules_file_is_generated_from_its_spec():
    assert rules.RULES_FILE.read_text(encoding="utf-8") == rules.render()
    names = [r["rule"] for r in rules.rules()]
    assert len(names) == len(set(names))
    # every escalation, inside every form, ends with the flag being logged after the domain reply
    for rule in rules.rules():
        actions = [s.get("action") for s in rule["steps"] if s.get("action")]
        if actions and actions[0].startswith("utter_escalate_"):
            assert actions[-1] in (rules.LOG, rules.LOG_SIGNS)


def test_one_message_at_a_time_gives_sklearns_probabilities():
    classifier, texts, vectors = _toy_classifier()
    texts = texts + ["he hit me and checks my phone", "", "zzz unseen words only"]
    vectors = np.vstack([vectors, np.zeros((3, vectors.shape[1]))])
    batch = classifier.probabilities(texts, vectors)  # more than 8 texts: sklearn's matrices
    one_by_one = np.vstack([classifier.probabilities([t], v.reshape(1, -1)) for t, v in zip(texts, vectors)])
    assert np.allclose(batch, one_by_one, atol=1e-12)
