"""The triage of one message: escalate, check in, a reply for someone's own violence, or continue.

A pure function of what the safety gate knows about the message (gate.py calls it): the danger
patterns' result (detector.py), the safety classifier's probabilities (classifier.py) and the
intent classifier's reading. It never depends on an action server, a database or earlier turns;
what adds up over a conversation (a second quiet sign, a sign after a worrying screening answer)
is decided by the dialogue rules on slots the actions keep (bot/data/rules/safety.yml,
bot/actions/safety.py).

Outcomes (and the intent the gate sets for each):
- ``escalate``: explicit danger, one of the four tiers (disclose_immediate_danger, disclose_violence,
  disclose_self_harm, disclose_child_at_risk): the tier's hotline in the same reply;
- ``coercive_control``: two or more kinds of quiet sign in one message (disclose_coercive_control):
  escalated, with coercive control named;
- ``check_in``: one quiet sign (disclose_warning_sign): the bot asks whether they feel safe with
  their partner;
- ``own``: the writer's own violence or control (disclose_own_violence);
- ``continue``: the intent classifier's reading stands.

Thresholds are the gate's options (config.yml), chosen on the development split of the real-world
corpus (docs/safety-evaluation.md); the test split is looked at once per change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.safety.detector import TIER_CHILD, TIER_IMMEDIATE, TIER_SELF_HARM, TIER_TO_INTENT, TIER_VIOLENCE, DangerResult

ESCALATE = "escalate"
COERCIVE_CONTROL = "coercive_control"
CHECK_IN = "check_in"
OWN = "own"
CONTINUE = "continue"

WARNING_SIGN_INTENT = "disclose_warning_sign"
COERCIVE_CONTROL_INTENT = "disclose_coercive_control"
OWN_VIOLENCE_INTENT = "disclose_own_violence"
OUTCOME_INTENTS = {COERCIVE_CONTROL: COERCIVE_CONTROL_INTENT, CHECK_IN: WARNING_SIGN_INTENT, OWN: OWN_VIOLENCE_INTENT}
# Every intent only the gate decides (the intent classifier's own guesses of them are checked).
SAFETY_INTENTS = frozenset(TIER_TO_INTENT.values()) | frozenset(OUTCOME_INTENTS.values())
# The classifier's classes (classifier.LABELS) that escalate, by tier.
CLASS_TIERS = {"violence": TIER_VIOLENCE, "immediate": TIER_IMMEDIATE, "child": TIER_CHILD, "self_harm": TIER_SELF_HARM}
# Replies that must never answer a message with a risk signal (issue: a disclosure must not be
# met with "that sounds frustrating" or "not sure I understood").
ORDINARY_REPLY_INTENTS = frozenset(
    {"describe_conflict", "report_objection_hopeless", "nlu_fallback", "out_of_scope", "describe_situation"}
)
GENERAL_KIND = "general"

DEFAULTS: Dict[str, float] = {
    # classifier probability of an escalation class (violence + immediate + child) that escalates
    "escalate_threshold": 0.5,
    # classifier probability of self-harm that escalates to the crisis line
    "self_harm_threshold": 0.35,
    # classifier probability of sign + escalation classes that checks in
    "check_in_threshold": 0.45,
    # the same, lower, for a message the intent classifier reads as ordinary conflict, hopelessness
    # or not understood, when it carries a risk word (weak evidence)
    "risk_word_check_in_threshold": 0.25,
    # classifier probability of the writer's own violence
    "own_threshold": 0.5,
    # the intent classifier this sure of a coaching intent ("I'm afraid he'll say no" is an
    # objection): the safety classifier alone does not check in
    "coaching_intent_threshold": 0.6,
    # the intent classifier alone: a danger intent this sure, with no idiom excused, escalates
    "intent_alone_threshold": 0.9,
    # a message with no risk-relevant word at all (the patterns' weak evidence): the classifier must
    # be this sure to escalate or check in ("he won't listen to me")
    "no_risk_word_threshold": 0.9,
    # when the patterns excused a risky word (an idiom, a negation: "he would never hit me", "I
    # could murder a coffee"), the classifier must be this sure to escalate or check in anyway
    "excused_threshold": 0.97,
    # a classifier reading of immediate danger this sure raises a pattern's tier to immediate
    "raise_to_immediate_threshold": 0.35,
}


@dataclass(frozen=True)
class Decision:
    outcome: str
    tier: Optional[str] = None  # for escalate
    kinds: Tuple[str, ...] = ()  # quiet signs, or danger categories, named in the reply
    source: str = "none"  # patterns, classifier, intent, or none
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def intent(self) -> Optional[str]:
        if self.outcome == ESCALATE:
            return TIER_TO_INTENT[self.tier]
        return OUTCOME_INTENTS.get(self.outcome)


def _most_urgent(tiers) -> str:
    for tier in (TIER_IMMEDIATE, TIER_SELF_HARM, TIER_CHILD, TIER_VIOLENCE):
        if tier in tiers:
            return tier
    raise ValueError(tiers)


def decide(
    result: DangerResult,
    probabilities: Optional[Mapping[str, float]] = None,
    intent: Optional[str] = None,
    confidence: float = 0.0,
    thresholds: Optional[Mapping[str, Any]] = None,
) -> Decision:
    """The triage of one message (see the module docstring)."""
    t = {**DEFAULTS, **(thresholds or {})}
    floor = t["excused_threshold"] if result.idiom else None if result.weak_evidence else t["no_risk_word_threshold"]
    if floor is not None:
        for key in ("escalate_threshold", "self_harm_threshold", "check_in_threshold", "own_threshold"):
            t[key] = max(t[key], floor)
        t["risk_word_check_in_threshold"] = 1.01
    p = dict(probabilities or {})
    scores = {k: round(float(v), 4) for k, v in p.items()}
    p_escalate = sum(p.get(name, 0.0) for name in ("violence", "immediate", "child"))
    p_self_harm = p.get("self_harm", 0.0)
    p_sign = p.get("sign", 0.0)

    # 1. The patterns name explicit danger: escalate on their tier.
    if result.tier:
        tier = result.tier
        if tier in (TIER_VIOLENCE, TIER_CHILD) and (
            p.get("immediate", 0.0) >= t["raise_to_immediate_threshold"]
            or (intent == TIER_TO_INTENT[TIER_IMMEDIATE] and confidence >= t["raise_to_immediate_threshold"])
        ):
            # The classifier reads it as happening now or life-threatening: the more urgent reply
            # (it carries every line of the others). A reading can only raise a tier, never lower it.
            tier = TIER_IMMEDIATE
        return Decision(ESCALATE, tier, tuple(result.categories), "patterns", scores)

    # 2. The classifier reads explicit danger the patterns missed.
    classifier_tiers = set()
    if p_self_harm >= t["self_harm_threshold"]:
        classifier_tiers.add(TIER_SELF_HARM)
    if p_escalate >= t["escalate_threshold"]:
        best = max(("violence", "immediate", "child"), key=lambda name: p.get(name, 0.0))
        classifier_tiers.add(CLASS_TIERS[best])
    if classifier_tiers and not (result.own and TIER_SELF_HARM not in classifier_tiers):
        return Decision(ESCALATE, _most_urgent(classifier_tiers), tuple(sorted(result.signs)), "classifier", scores)

    # 3. The intent classifier alone, sure of a danger intent, and no risky word excused as an idiom.
    tier_of_intent = {v: k for k, v in TIER_TO_INTENT.items()}
    if intent in tier_of_intent and confidence >= t["intent_alone_threshold"] and not result.idiom and not result.own:
        return Decision(ESCALATE, tier_of_intent[intent], (), "intent", scores)

    # 4. The writer's own violence or control.
    if result.own or p.get("own", 0.0) >= t["own_threshold"]:
        return Decision(OWN, None, ("own_violence",), "patterns" if result.own else "classifier", scores)

    # 5. Quiet signs: two kinds at once are coercive control; one is a check-in.
    if len(result.signs) >= 2:
        return Decision(COERCIVE_CONTROL, TIER_VIOLENCE, tuple(result.signs), "patterns", scores)
    if result.signs:
        return Decision(CHECK_IN, None, tuple(result.signs), "patterns", scores)
    coaching = (
        intent is not None
        and intent not in ORDINARY_REPLY_INTENTS
        and intent not in SAFETY_INTENTS
        and confidence >= t["coaching_intent_threshold"]
    )
    if p_sign + p_escalate >= t["check_in_threshold"] and not coaching:
        return Decision(CHECK_IN, None, (GENERAL_KIND,), "classifier", scores)
    if intent == WARNING_SIGN_INTENT and confidence >= t["intent_alone_threshold"] and not result.idiom:
        return Decision(CHECK_IN, None, (GENERAL_KIND,), "intent", scores)
    if (
        result.weak_evidence
        and (intent in ORDINARY_REPLY_INTENTS or confidence < 0.3)
        and p_sign + p_escalate + p_self_harm >= t["risk_word_check_in_threshold"]
    ):
        # A risk word in a message that would get an ordinary reply: ask rather than coach.
        return Decision(CHECK_IN, None, (GENERAL_KIND,), "classifier", scores)
    return Decision(CONTINUE, None, (), "none", scores)
