"""The danger detector on its own: no Rasa, no trained model."""

import pytest

from bot.safety import detector as danger
from bot.safety.detector import DangerDetector, PatternError, compile_pattern, default_detector, load_config
from tests.conftest import load_eval


@pytest.fixture(scope="module")
def detector():
    return default_detector()


@pytest.mark.parametrize(
    "text, tier",
    [
        ("he hit me last night", "violence"),
        ("My husband slapped me", "violence"),
        ("she threatened to kill me", "immediate_danger"),
        ("he choked me until I passed out", "immediate_danger"),
        ("he has a gun and said he'd use it", "immediate_danger"),
        ("he's outside my door right now banging on it", "immediate_danger"),
        ("he is emotionally abusive", "violence"),
        ("i dont feel safe at home anymore", "violence"),
        ("she forced me to have sex", "violence"),
        ("I want to die", "self_harm"),
        ("i dont want to be here anymore", "self_harm"),
        ("I've been thinking about killing myself", "self_harm"),
        ("he hits the kids", "child_at_risk"),
        ("he beats me and I want to end my life", "immediate_danger"),
        ("He’ll kill me if I go to therapy", "immediate_danger"),
    ],
)
def test_explicit_danger_gets_its_tier(detector, text, tier):
    assert detector.detect(text).tier == tier


@pytest.mark.parametrize(
    "text",
    [
        "I hit a wall trying to convince him",
        "he's killing me with his stubbornness",
        "we fight about money",
        "I could kill him for eating my fries",
        "this budget is killing me",
        "I'm dying to try couples therapy",
        "she shot down my idea",
        "he threw me under the bus at dinner",
        "hit me up when you're free",
        "my partner says therapy is for crazy people",
        "I'm afraid he'll say no to therapy",
        "how much does a session cost",
        "",
        "   ",
    ],
)
def test_ordinary_conflict_and_idioms_do_not_escalate(detector, text):
    assert not detector.detect(text).is_danger


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("I'm scared of him", ("fear",)),
        ("he tracks my phone", ("monitoring",)),
        ("he won't let me see my friends", ("control",)),
        ("he takes my paycheck", ("money",)),
        ("he says i'm crazy", ("emotional",)),
        ("my husband hurt me again", ("hurt",)),
    ],
)
def test_quiet_signs_are_signs_not_escalations(detector, text, kinds):
    """One quiet sign: the bot checks in (bot/safety/triage.py)."""
    result = detector.detect(text)
    assert not result.is_danger
    assert result.signs == kinds
    assert result.outcome == "check_in"


def test_two_kinds_of_sign_at_once_are_coercive_control(detector):
    result = detector.detect("he checks my phone and controls all the money")
    assert result.signs == ("money", "monitoring") and result.outcome == "coercive_control"


@pytest.mark.parametrize(
    "text",
    [
        "he has never hit me",
        "he would never hit me, he's just stubborn",
        "I don't think he would ever hurt me",
        "he says i'm not crazy",
        "she refrained from hitting me",
        "i'm afraid he'll say no",
        "i want him to know how much he hurt me",
        "I've kicked him out of the house for the night",
    ],
)
def test_negation_and_ordinary_words_are_not_a_sign(detector, text):
    assert detector.detect(text).outcome == "continue"


@pytest.mark.parametrize(
    "text",
    [
        "i punched a wall next to her, is that a problem for therapy",
        "i hit my girlfriend last night",
        "i'm scared of what i might do when i'm angry",
        "am i abusive?",
    ],
)
def test_the_writers_own_violence(detector, text):
    result = detector.detect(text)
    assert result.own and result.outcome == "own"


@pytest.mark.parametrize(
    "text", ["i read all her messages every night", "I get jealous and check his phone", "I slam doors when I'm angry"]
)
def test_the_writers_own_control_is_for_the_accountability_step_not_a_lock(detector, text):
    """Answers to "what is your part?" (tests/safety/own_part_benign.yml): honest, not a lock."""
    assert detector.detect(text).outcome == "continue"


def test_someone_elses_violence_outweighs_the_writers_own(detector):
    result = detector.detect("he punched me so i hit him back")
    assert result.outcome == "escalate" and result.tier == "violence"


def test_violence_signal_and_categories(detector):
    result = detector.detect("he pushed me down the stairs")
    assert result.violence_signal
    assert result.categories == ("physical",)
    assert not detector.detect("I want to die").violence_signal


def test_result_never_carries_the_whole_message(detector):
    text = "he hit me and my address is 12 Elm Street"
    result = detector.detect(text)
    assert all(len(m.text) < len(text) for m in result.matches)


def test_pattern_language():
    groups = {"ME": ["me", "=us"]}
    patterns = compile_pattern("hit ~2 @ME", groups)
    assert patterns == [
        [{"LEMMA": {"IN": ["hit"]}}, {"OP": "?"}, {"OP": "?"}, {"LEMMA": {"IN": ["me"]}}],
        [{"LEMMA": {"IN": ["hit"]}}, {"OP": "?"}, {"OP": "?"}, {"LOWER": {"IN": ["us"]}}],
    ]
    phrases = compile_pattern("=a [=b =c|=d]", {})
    assert [[t["LOWER"]["IN"][0] for t in p] for p in phrases] == [["a", "b", "c"], ["a", "d"]]


@pytest.mark.parametrize("bad", ["~2 hit", "hit ~2", "=don't", "@NOPE", "[a|b", ""])
def test_pattern_language_rejects_mistakes(bad):
    with pytest.raises(PatternError):
        compile_pattern(bad, {})


def test_config_rejects_unknown_category(detector):
    config = load_config()
    config["rules"] = [{"id": "x", "category": "nope", "match": "hit"}]
    with pytest.raises(PatternError):
        DangerDetector(detector.nlp, config)


# The development set's categories that are quiet signs under the triage (a check-in, not an escalation).
SIGN_CATEGORIES = {"stalking_control", "fear", "emotional_abuse", "control", "monitoring", "isolation", "money"}


def test_patterns_alone_on_the_development_sets(detector):
    """Figures of the patterns alone (the classifiers add the rest; see tests/integration): every
    explicit disclosure escalates, nearly every message gets a safety response (an escalation, or a
    check-in for a quiet sign), and ordinary messages almost never do."""
    danger_items = load_eval("danger_eval.yml")
    benign_items = load_eval("benign_eval.yml")
    assert len(danger_items) >= 150 and len(benign_items) >= 150
    explicit = [i["text"] for i in danger_items if i["kind"] == "explicit" and i["category"] not in SIGN_CATEGORIES]
    missed_explicit = [t for t in explicit if detector.detect(t).outcome not in ("escalate", "coercive_control")]
    assert missed_explicit == []
    missed = [i["text"] for i in danger_items if detector.detect(i["text"]).outcome == "continue"]
    assert len(missed) <= 0.05 * len(danger_items), missed
    false_alarms = [i["text"] for i in benign_items if detector.detect(i["text"]).outcome != "continue"]
    assert len(false_alarms) <= 0.02 * len(benign_items), false_alarms


def test_detection_is_fast_enough_to_run_on_every_message(detector):
    import time

    texts = [i["text"] for i in load_eval("benign_eval.yml")]
    start = time.perf_counter()
    for text in texts:
        detector.detect(text)
    per_message = (time.perf_counter() - start) / len(texts)
    # A sanity bound, not a benchmark (figures: bench/ and the issue notes).
    assert per_message < 0.05


def _texts_for_the_fast_path():
    """Every message of the evaluation sets (tests/safety/*.yml), every example of the NLU data
    (as written and without its entity markup), and danger messages two at a time (several rules
    matching: the order of `DangerResult.matches`)."""
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    texts = []
    for path in sorted((root / "tests" / "safety").glob("*.yml")):
        texts += [item["text"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]]
    for path in sorted((root / "bot" / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in (block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:])
                    texts.append(re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", line[2:]))
    danger_texts = [
        item["text"]
        for name in ("danger_eval.yml", "holdout_danger.yml", "holdout2_danger.yml")
        for item in load_eval(name)
    ]
    texts += [f"{a} {danger_texts[(i * 7 + 3) % len(danger_texts)]}" for i, a in enumerate(danger_texts)]
    texts += [
        "",
        " ",
        "\x00\t",
        "😀 he hit me 😡",
        "زوجي يضربني",
        "夫に殴られた he hit me",
        "<b>he\u2019ll kill me</b>",
        "he hit me " * 600,
    ]
    return list(dict.fromkeys(texts))


def test_prefiltered_detection_is_the_single_matcher_detection(detector):
    """`detect` (per-rule Matchers run only when the message has the words a pattern needs, a faster
    parse) gives exactly the `DangerResult` of `detect_reference` (the one Matcher holding every
    rule, on `nlp(text)`): tier, categories, matches in order, weak evidence, idiom."""
    from bot.safety.detector import normalise

    texts = _texts_for_the_fast_path()
    assert len(texts) > 4000
    different = []
    for text in texts:
        expected = (
            detector.detect_reference(detector.nlp(normalise(text)[:5000]))
            if text.strip()
            else danger.DangerResult(tier=None)
        )
        if detector.detect(text) != expected:
            different.append(text)
    assert different == []


@pytest.mark.parametrize(
    "text",
    [
        "how many paracetamol would it take to not wake up",
        "i googled the lethal dose of my pills",
        "I've been giving away my things to people I love",
        "I wrote letters to my kids just in case",
        "i have written my goodbyes",
        "I have a plan and a date",
        "I won't be around much longer",
    ],
)
def test_warning_signs_of_suicide_get_the_crisis_line(detector, text):
    assert detector.detect(text).tier == "self_harm"


@pytest.mark.parametrize(
    "text",
    [
        "how many sessions will it take",
        "giving away my old clothes to charity",
        "we have a plan and a date for our first session",
        "I won't be around next week, work trip",
        "my note to my husband about counselling, just in case he asks",
        "I'm not going to be here for the session on Friday",
    ],
)
def test_plans_dates_and_letters_about_therapy_are_not_warning_signs(detector, text):
    assert not detector.detect(text).is_danger
