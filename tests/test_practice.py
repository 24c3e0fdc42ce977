"""The practice run: the analyzer on labelled lines, the simulated partner, feedback and storage."""

import pytest
import yaml

from bot.actions import rehearsal as practice
from bot.coaching import curriculum
from bot.rehearsal import analyzer as invitation
from bot.rehearsal import partner
from tests.eval_invitation import load, score

SEEDS = {
    "000_ac6763a220440955.txt",
    "001_7345b2fad58c8d51.txt",
    "002_ce9224962432a027.txt",
    "003_03e196ffe17c578a.txt",
    "004_045da85a41f7b346.txt",
}
PREPARED = [
    "Is now a good time to talk about something important to me?",
    "I love you and I'm not going anywhere. This isn't about blaming you, I know I play a part too.",
    "The therapist would want to hear your side just as much as mine.",
    "Could we try just one session? You could pick the therapist, and you don't have to answer now.",
    "I'd like us to feel closer again, together.",
]
BLAMING = [
    "You never listen to me, that's the problem.",
    "It's your fault we're like this.",
    "Either you come to therapy or I'm leaving.",
    "My mom thinks you need help too.",
    "Oh sure, because you're so good at talking about feelings.",
    "I need an answer right now.",
]


# ---------------------------------------------------------------- the analyzer
def test_the_labelled_lines_are_enough_valid_and_apart():
    train, heldout = load("train"), load("heldout")
    assert len(train) >= 800 and len(heldout) >= 200
    for row in train + heldout:
        assert set(row["labels"]) <= set(invitation.LABELS), row
    for label in invitation.LABELS:
        assert sum(label in row["labels"] for row in train) >= 30, label
        assert sum(label in row["labels"] for row in heldout) >= 10, label
    from scripts.practice_corpus import key

    assert not {key(r["text"]) for r in train} & {key(r["text"]) for r in heldout}


def test_the_lines_are_what_the_corpus_script_assembles_from_the_kept_deliveries():
    """bot/rehearsal/corpus/train.jsonl and the held-out set come from the files in the repository
    (scripts/practice_corpus.py): the fourth round's two labellings decide, never a hand edit."""
    from scripts.practice_corpus import PRACTICE, assemble

    train, heldout = assemble(PRACTICE / "round4")
    assert [(r["text"], r["labels"], r["source"]) for r in train] == [
        (r["text"], r["labels"], r["source"]) for r in load("train")
    ]
    assert [(r["text"], r["labels"], r["labelling"]) for r in heldout] == [
        (r["text"], r["labels"], r["labelling"]) for r in load("heldout")
    ]
    assert len(heldout) == 300 and sum(r["labelling"] == "adjudicated" for r in heldout) == 13


def test_the_patterns_on_the_lines_they_were_tuned_on():
    """The patterns alone, on the first development lines with their first labels: a regression
    guard, not a result (docs/practice-run.md)."""
    from pathlib import Path

    items = yaml.safe_load(Path("tests/practice/invitation_lines.yml").read_text(encoding="utf-8"))["items"]
    rows = [
        {"text": i["text"], "labels": list(i.get("techniques") or []) + list(i.get("pitfalls") or [])} for i in items
    ]
    result = score(rows, use_model=False)
    assert result["micro_precision"] >= 0.90 and result["micro_recall"] >= 0.90


def test_the_model_learnt_its_training_lines():
    """Not a result (the held-out figures are, `make eval-practice`): a check that training worked."""
    result = score(load("train"))
    assert result["micro_precision"] >= 0.85 and result["micro_recall"] >= 0.85


@pytest.mark.parametrize(
    "text, techniques, pitfalls",
    [
        ("I'm not blaming you", {"not_about_blame"}, set()),
        ("you never listen", set(), {"blame"}),
        ("I'd never leave you over this", {"reassure_love"}, set()),
        ("I won't ask you to decide tonight", {"time_to_think"}, set()),
        ("would you try one session?", {"test_drive"}, set()),
        ("go to therapy or I'm leaving", set(), {"ultimatum"}),
        ("I love you, but you always ruin everything", {"reassure_love"}, {"blame"}),
        ("", set(), set()),
    ],
)
def test_negation_questions_and_quotes(text, techniques, pitfalls):
    result = invitation.analyze(text)
    assert set(result.techniques) == techniques and set(result.pitfalls) == pitfalls


@pytest.mark.parametrize(
    "text, pitfall",
    [
        ("Either you come to therapy with me or I'm filing for divorce. Your choice", "ultimatum"),
        ("You're coming whether you like it or not, I already booked it", "tricks"),
        ("if you really loved me you'd just go", "tricks"),
        ("you're such a narcissist, you need help", "labelling"),
    ],
)
def test_pressure_tricks_and_labels_are_named_and_never_praised(text, pitfall):
    result = invitation.analyze(text)
    assert pitfall in result.pitfalls
    assert not {"choose_together", "time_to_think"} & set(result.techniques)


def test_the_analyzer_quotes_the_sentence_it_found_it_in():
    result = invitation.analyze("I miss us. Could we try just one session?")
    assert result.techniques["test_drive"] == "Could we try just one session?"
    assert result.techniques["i_we_language"] == "I miss us."


def test_the_sentences_without_harm_are_kept_for_a_better_line():
    result = invitation.analyze("I miss how we used to be. You never listen though.")
    assert result.kept == ("I miss how we used to be.",)


# ---------------------------------------------------------------- the simulated partner
def play(persona, lines):
    run = partner.new_run(persona, "t")
    for number, line in enumerate(lines):
        run = partner.partner_turn(run, line, invitation.analyze(line), key=f"t{number}")
        if run["outcome"]:
            break
    return run


@pytest.mark.parametrize("persona", list(partner.personas()))
def test_a_prepared_invitation_ends_better_than_a_blaming_one(persona):
    prepared = play(persona, PREPARED)
    blaming = play(persona, BLAMING)
    assert prepared["outcome"] == partner.OUTCOME_AGREES, prepared
    assert blaming["outcome"] == partner.OUTCOME_REFUSES, blaming
    assert prepared["openness"] > blaming["openness"]


@pytest.mark.parametrize("persona", list(partner.personas()))
def test_the_partner_answers_what_was_just_said(persona):
    data = partner.personas()[persona]
    run = partner.new_run(persona, "t")
    assert run["reply"] in data["opening"]
    line = "the therapist will want to hear your side"
    run = partner.partner_turn(run, line, invitation.analyze(line), key="k")
    assert run["reply"] == data["hears"]["their_side"]
    run = partner.partner_turn(run, "you never listen", invitation.analyze("you never listen"), key="k")
    assert run["reply"] in partner.data()["pitfalls"]["blame"]["reactions"]
    line = "either we go to counselling or I'm leaving"
    run = partner.partner_turn(run, line, invitation.analyze(line), key="k")
    assert run["reply"] in partner.data()["pitfalls"]["ultimatum"]["reactions"] and not run["outcome"]
    run = partner.partner_turn(run, "hmm", invitation.analyze("hmm"), key="k")
    assert run["reply"] in data["lines"]["guarded"]


@pytest.mark.parametrize("persona", list(partner.personas()))
def test_the_partner_never_repeats_a_line_in_a_run(persona):
    run = partner.new_run(persona, "t")
    replies = [run["reply"]]
    for line in ["hmm", "you never listen", "ok", "hmm", "you never listen", "ok", "hmm", "hmm"]:
        run = partner.partner_turn(run, line, invitation.analyze(line), key="same")
        replies.append(run["reply"])
        if run["outcome"]:
            break
    assert run["turn"] >= 5 and len(replies) == len(set(replies)), replies


def test_no_success_is_pretended_before_three_turns_or_without_an_offer():
    line = "I love you and this isn't about blame, the therapist wants your side, I'd like us to be closer"
    run = play("distant", [line])
    assert run["outcome"] is None  # one turn is never enough
    warm_only = play(
        "distant",
        [
            line,
            "I love you so much",
            "I care about us",
            "I'm not going anywhere",
            "we're a team",
            "you matter too",
            "I miss us",
            "I love you",
        ],
    )
    assert warm_only["outcome"] == partner.OUTCOME_TIME  # warm, but no concrete offer: not a yes


def test_a_run_ends_by_the_eighth_turn():
    run = play("private", ["hmm"] * 10)
    assert run["turn"] == partner.MAX_TURNS and run["outcome"] == partner.OUTCOME_REFUSES


def test_feedback_quotes_the_user_names_techniques_and_rewrites_a_line():
    run = play(
        "fears_blame", ["I love you.", "I miss how we were. You never listen to me.", "Could we try one session?"]
    )
    messages = partner.feedback(run, step_title=practice.step_title)
    text = "\n".join(messages)
    assert 'You said: "I love you."' in text and "Reassured them of your love" in text
    assert '"You never listen to me."' in text
    # the better line is built from what they said, without the blame
    assert '"I miss how we were. I know I play a part in this too.' in text
    # the most important thing first: the pitfall comes before what worked
    assert text.index("Blaming your partner") < text.index("What worked")
    assert "Steps worth revisiting:" in text


def test_feedback_quotes_each_line_once_and_never_praises_an_ultimatum():
    line = (
        "Either you come to therapy with me or I'm filing for divorce. Your choice, and honestly I have "
        "been thinking about this for a very long time and I'm tired of waiting for you to change"
    )
    run = play("distant", [line, line, line])
    text = "\n".join(partner.feedback(run, step_title=practice.step_title))
    assert "An ultimatum" in text and "Offered to choose" not in text
    assert text.count("Either you come to therapy") == 1


def test_a_long_quote_is_cut_at_a_word_and_marked():
    quote = partner._quote("word " * 60)
    assert quote.endswith(" \u2026") and len(quote) <= partner.QUOTE_CHARS + 2
    assert quote[:-2].split(" ")[-1] == "word"


def test_feedback_never_suggests_what_was_used():
    line = "what if we looked together, you can veto anyone"
    run = play("distant", [line, "hmm", "hmm"])
    assert "choose_together" in run["used"]
    assert (
        "choose the therapist together"
        not in "\n".join(partner.feedback(run, step_title=practice.step_title)).split("Something to add")[-1].lower()
    )


@pytest.mark.parametrize(
    "text", ["hint", "any tips?", "Any tips", "tips pls", "what should I say?", "i'm stuck", "help"]
)
def test_hints_are_asked_for_in_ordinary_words(text):
    assert partner.is_hint(text)


@pytest.mark.parametrize(
    "text", ["help me understand why you hate it", "I need help with us", "any tips on how we talk?"]
)
def test_a_line_to_the_partner_is_not_a_hint(text):
    assert not partner.is_hint(text)


def test_a_hint_helps_without_ending_or_advancing_the_run(tracker_factory, dispatcher, domain):
    run = partner.partner_turn(partner.new_run("fears_blame", "h"), "hmm", invitation.analyze("hmm"))
    slots = practice.ValidatePracticeForm().validate_practice_line(
        "any tips?", dispatcher, tracker_factory("h", {"practice_state": run}), domain
    )
    assert slots["practice_line"] is None and slots["practice_state"]["turn"] == run["turn"]
    sent = [m["text"] for m in dispatcher.messages]
    need = partner.personas()["fears_blame"]["needs"][0]
    assert sent == [partner.feedback_text("hint", hint=partner.data()["hints"][need])]


def test_feedback_compares_with_the_last_run():
    run = play("distant", PREPARED)
    text = "\n".join(
        partner.feedback(run, step_title=practice.step_title, previous={"techniques_used": ["reassure_love"]})
    )
    assert "Compared with your last run, this is new: Asked for their side" in text


@pytest.mark.parametrize("text", ["stop", "Exit", "quit.", "stop practice"])
def test_stop_words(text):
    assert partner.is_stop(text)


def test_stop_is_not_a_line_about_stopping():
    assert not partner.is_stop("please stop blaming me")


@pytest.mark.parametrize(
    "text, persona",
    [
        ("distant", "distant"),
        ("3", "cost_worried"),
        ("the one worried about money", "cost_worried"),
        ("Afraid of being blamed", "fears_blame"),
        ("banana", None),
    ],
)
def test_choosing_a_persona(text, persona):
    assert partner.match_persona(text) == persona


# ---------------------------------------------------------------- content
def test_practice_content_is_complete_and_sourced():
    data = partner.data()
    for pid, persona in data["personas"].items():
        assert len(persona["opening"]) == 3 and set(persona["source"]) <= SEEDS, pid
        assert all(len(persona["lines"][m]) == 4 for m in ("hardened", "guarded", "softening")), pid
        assert all(len(persona["endings"][e]) == 2 for e in ("agrees_one_session", "asks_for_time", "refuses")), pid
        assert set(persona["hears"]) == set(invitation.TECHNIQUES), pid
        assert set(persona["needs"]) <= set(invitation.TECHNIQUES), pid
    for group, labels in (("techniques", invitation.TECHNIQUES), ("pitfalls", invitation.PITFALLS)):
        assert set(data[group]) == set(labels)
        for label, entry in data[group].items():
            assert set(entry["source"]) <= SEEDS and curriculum.step_by_id(entry["step"]), label
    for label, entry in data["pitfalls"].items():
        assert entry["short"] and len(set(entry["reactions"])) == 3, label
    assert set(data["hints"]) == set(invitation.TECHNIQUES)


# ---------------------------------------------------------------- the Rasa side
async def test_validation_plays_the_partner_and_ends_with_feedback(tracker_factory, dispatcher, domain, store):
    store.set_consent("p1", True)
    form = practice.ValidatePracticeForm()
    slots = form.validate_practice_persona("distant", dispatcher, tracker_factory("p1"), domain)
    run = slots["practice_state"]
    assert slots["practice_persona"] == "distant" and run["reply"] in partner.personas()["distant"]["opening"]
    for line in PREPARED:
        tracker = tracker_factory("p1", {"practice_state": run, "consent_storage": True})
        slots = form.validate_practice_line(line, dispatcher, tracker, domain)
        run = slots.get("practice_state", run)
        if slots["practice_line"] == partner.DONE:
            break
    assert run["outcome"] == partner.OUTCOME_AGREES
    tracker = tracker_factory("p1", {"practice_state": run, "consent_storage": True, "onboarded": True})
    events = await practice.ActionPracticeFeedback().run(dispatcher, tracker, domain)
    assert {e["name"] for e in events} >= {"practice_state", "practice_line", "practice_persona"}
    (saved,) = store.profile("p1").practice_runs
    assert saved["persona"] == "distant" and saved["outcome"] == "agrees_one_session"
    assert "their_side" in saved["techniques_used"]


@pytest.mark.parametrize("turn", range(0, 5))
def test_stop_works_at_every_turn(tracker_factory, dispatcher, domain, turn):
    form = practice.ValidatePracticeForm()
    run = partner.new_run("hopeless", "s")
    for line in ["I love you"] * turn:
        run = partner.partner_turn(run, line, invitation.analyze(line))
    slots = form.validate_practice_line("stop", dispatcher, tracker_factory("s", {"practice_state": run}), domain)
    assert slots["practice_line"] == partner.DONE and slots["practice_state"]["outcome"] == partner.OUTCOME_STOPPED


def test_stop_before_choosing_a_partner_ends_without_a_run(tracker_factory, dispatcher, domain):
    slots = practice.ValidatePracticeForm().validate_practice_persona("quit", dispatcher, tracker_factory("s2"), domain)
    assert slots["practice_line"] == partner.DONE and slots["practice_state"] is None


async def test_without_consent_the_run_is_not_stored(tracker_factory, dispatcher, domain, store):
    run = play("distant", PREPARED)
    await practice.ActionPracticeFeedback().run(dispatcher, tracker_factory("p2", {"practice_state": run}), domain)
    assert store.profile("p2").practice_runs == []


def test_a_flagged_user_is_never_offered_a_practice_run():
    from bot.actions.common import menu

    _, buttons = menu([], [], flagged=True)
    assert "/start_practice" not in [b["payload"] for b in buttons]
    _, buttons = menu([], [], flagged=False)
    assert "/start_practice" in [b["payload"] for b in buttons]
    rules = []
    from pathlib import Path

    for path in Path("bot/data/rules").glob("*.yml"):
        rules += yaml.safe_load(path.read_text())["rules"]
    practice_rules = [r for r in rules if any(s.get("intent") == "start_practice" for s in r["steps"])]
    flagged = [
        r for r in practice_rules if {"violence_flag": True} in (r.get("condition") or [{}])[0].get("slot_was_set", [])
    ]
    assert [s.get("action") for s in flagged[0]["steps"][1:]] == [
        "utter_practice_refused_flagged",
        "utter_individual_support",
    ]
    others = [r for r in practice_rules if r not in flagged]
    assert all({"violence_flag": False} in r["condition"][0]["slot_was_set"] for r in others)
