"""Several questions in one message (bot/nlu/question_clauses.py, bot/actions/questions.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.questions import answer_more_questions
from bot.nlu.question_clauses import questions


def test_questions_split_at_question_marks_and_joins_before_a_question_word():
    text = "wait how long does this step usualy take?? and is this private, my husband sometimes looks at my phone"
    assert questions(text) == [
        "wait how long does this step usualy take??",
        "and is this private, my husband sometimes looks at my phone",
    ]
    assert questions("how much does it cost? can we do it online?") == [
        "how much does it cost?",
        "can we do it online?",
    ]
    assert questions("how much does it cost and is it confidential") == ["how much does it cost", "is it confidential"]
    assert questions("what happens in the first session? also, how long does it take") == [
        "what happens in the first session?",
        "also, how long does it take",
    ]


def test_statements_and_short_pieces_are_not_questions():
    assert questions("he says it's a waste of money and we are fine") == []
    assert questions("ok. thanks!") == []
    # A story with one question at its end: one question, answered as before.
    assert questions("we've been fighting about money for months. how do i bring it up?") == ["how do i bring it up?"]


def tracker(more, responses_flagged=False):
    return Tracker(
        sender_id="t",
        slots={"onboarded": True, "violence_flag": responses_flagged},
        latest_message={"text": "", "intent": {"name": "practical", "confidence": 0.9}, "more_questions": more},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=None,
    )


DOMAIN = {"responses": {"utter_practical/online": [{"text": "x"}], "utter_device_safety": [{"text": "y"}]}}


def test_more_questions_are_answered_after_the_main_answer(monkeypatch):
    monkeypatch.setattr("bot.actions.common.load_profile", lambda tracker: None)
    dispatcher = CollectingDispatcher()
    answer_more_questions(dispatcher, tracker(["practical/online", "ask_device_safety"]), DOMAIN)
    sent = [m.get("response") or m.get("text") for m in dispatcher.messages]
    assert sent[0] == "And your other question:"
    assert "utter_practical/online" in sent and "utter_device_safety" in sent


def test_unknown_or_malformed_labels_are_ignored(monkeypatch):
    monkeypatch.setattr("bot.actions.common.load_profile", lambda tracker: None)
    for more in (None, "practical/online", ["practical/nope", 3, "greet"]):
        dispatcher = CollectingDispatcher()
        assert answer_more_questions(dispatcher, tracker(more), DOMAIN) == []
        assert dispatcher.messages == []


def test_answers_that_open_with_a_question_word_are_not_questions():
    assert questions("when he gets angry i shut down and stop talking") == []
    assert questions("what i did was raise my voice, and i want to pause next time") == []
    assert questions("how long does it take and what happens in the first session") == [
        "how long does it take",
        "what happens in the first session",
    ]
