"""Resume codes (bot/progress/codes.py, bot/actions/resume.py): random words, hashed, limited guesses,
revocable, deleted with the data, never stored in clear in the conversation."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.actions import resume
from bot.progress import codes, retention
from bot.progress.store import ResumeAttempt, ResumeCode


def texts(dispatcher):
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def shown_code(dispatcher):
    found = re.search(r"\b[a-z]+(?:-[a-z]+){3}\b", texts(dispatcher))
    return found.group(0) if found else None


def test_the_word_list_is_long_plain_and_unique():
    words = codes.words()
    assert len(words) == 1024 and len(set(words)) == 1024
    assert all(re.fullmatch(r"[a-z]{3,6}", w) for w in words)


def test_codes_are_random_four_words_read_back_however_typed():
    made = {codes.new_code() for _ in range(200)}
    assert len(made) == 200
    code = made.pop()
    assert len(code.split("-")) == 4
    assert codes.normalise(f"  {code.upper().replace('-', ' ')}. ") == code
    assert codes.normalise("none of these") is None
    assert codes.normalise("he hit me last night") is None


def test_only_a_slow_salted_hash_is_stored(monkeypatch):
    monkeypatch.setenv("RESUME_CODE_SECRET", "one installation")
    first = codes.code_hash("river-lake-pond-hill")
    monkeypatch.setenv("RESUME_CODE_SECRET", "another installation")
    assert codes.code_hash("river-lake-pond-hill") != first
    assert "river" not in first and len(first) == 64


def test_redaction_keeps_codes_out_of_stored_text():
    code = codes.new_code()
    assert (
        codes.redact(f"Your resume code is: {code}\n\nTo continue...")
        == "Your resume code is: [resume code]\n\nTo continue..."
    )
    assert codes.redact(code.replace("-", " ")) == "[resume code]"
    assert codes.redact("a well-known long-term plan") == "a well-known long-term plan"


async def onboarded_with_code(store, tracker_factory, dispatcher, domain, sender="old"):
    store.set_consent(sender, True)
    store.set_region(sender, "UK")
    store.mark_onboarded(sender)
    store.start_step(sender, "budget")
    store.complete_step(sender, "budget", "about 100 a month")
    await resume.ActionShowResumeCode().run(
        dispatcher, tracker_factory(sender, {"consent_storage": True, "onboarded": True}), domain
    )
    return shown_code(dispatcher)


async def test_during_the_first_questions_the_code_is_promised(store, tracker_factory, dispatcher, domain):
    await resume.ActionShowResumeCode().run(dispatcher, tracker_factory("q", {"consent_storage": True}), domain)
    assert shown_code(dispatcher) is None and "as soon as these few questions are done" in texts(dispatcher)


async def test_a_code_moves_the_progress_to_the_new_conversation(store, tracker_factory, dispatcher, domain):
    code = await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    assert code and store.has_resume_code("old")
    with retention._engine(store.url).connect() as conn:  # stored as a hash only
        assert code not in str(conn.execute(ResumeCode.__table__.select()).fetchall())
    dispatcher.messages.clear()
    events = await resume.ActionResumeWithCode().run(
        dispatcher, tracker_factory("new", text=code.replace("-", " "), intent="enter_resume_code"), domain
    )
    assert "Welcome back" in texts(dispatcher) and "1 step done" in texts(dispatcher)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["onboarded"] is True and slots["region"] == "UK" and slots["steps_done"] == ["budget"]
    profile = store.profile("new")
    assert profile.done == ["budget"] and profile.answers[0]["answer"] == "about 100 a month"
    assert not store.profile("old").known and store.has_resume_code("new") and not store.has_resume_code("old")
    # The earlier conversation's messages go too, deleted by the tracker store in Rasa's process.
    assert slots[retention.ERASE_OTHER_SLOT] == "old"


async def test_the_tracker_store_erases_the_earlier_conversation_and_forgets_its_id(tmp_path):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.stores import URLTrackerStore

    store = URLTrackerStore(domain=Domain.from_path("domain.yml"), host=f"sqlite:///{tmp_path / 'tracker.db'}")
    old = DialogueStateTracker.from_events("old", [UserUttered("hi, i want to come back later")])
    await store.save(old)
    other = DialogueStateTracker.from_events("other", [UserUttered("hello")])
    await store.save(other)
    new = DialogueStateTracker.from_events(
        "new", [UserUttered("maple river stone lamp"), SlotSet(retention.ERASE_OTHER_SLOT, "old")]
    )
    await store.save(new)
    assert retention.conversation_counts("old", store.engine).events == 0
    assert retention.conversation_counts("other", store.engine).events > 0
    saved = await store.retrieve("new")
    assert saved.get_slot(retention.ERASE_OTHER_SLOT) is None  # the earlier id is not kept
    # a later turn does not erase again, nor its own conversation
    saved.update(UserUttered("menu"))
    saved.update(SlotSet(retention.ERASE_OTHER_SLOT, "new"))
    await store.save(saved)
    assert retention.conversation_counts("new", store.engine).events > 0


async def test_the_safety_flag_comes_along(store, tracker_factory, dispatcher, domain):
    code = await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    store.flag("old", tier="violence", source="screen", reopenable=False)
    events = await resume.ActionResumeWithCode().run(
        dispatcher, tracker_factory("new2", text=code, intent="enter_resume_code"), domain
    )
    assert store.is_flagged("new2") and not store.is_flagged("old")
    assert {"event": "slot", "name": "violence_flag", "value": True, "timestamp": None} in events


async def test_wrong_codes_are_limited_per_conversation_and_per_hour(
    store, tracker_factory, dispatcher, domain, monkeypatch
):
    code = await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    wrong = "river-lake-pond-hill" if code != "river-lake-pond-hill" else "river-lake-pond-moss"
    for _ in range(5):
        dispatcher.messages.clear()
        await resume.ActionResumeWithCode().run(dispatcher, tracker_factory("guesser", text=wrong), domain)
        assert "don't recognise" in texts(dispatcher)
    dispatcher.messages.clear()
    await resume.ActionResumeWithCode().run(dispatcher, tracker_factory("guesser", text=code), domain)
    assert "Too many codes" in texts(dispatcher) and store.has_resume_code("old")  # even the right one waits
    # Across conversations: the hourly limit.
    monkeypatch.setenv("RESUME_MAX_FAILED_PER_HOUR", "5")
    dispatcher.messages.clear()
    await resume.ActionResumeWithCode().run(dispatcher, tracker_factory("someone-else", text=code), domain)
    assert "Too many codes" in texts(dispatcher)
    # An hour later, the right code works.
    with retention._engine(store.url).begin() as conn:
        conn.execute(ResumeAttempt.__table__.update().values(attempted_at=dt.datetime.utcnow() - dt.timedelta(hours=2)))
    dispatcher.messages.clear()
    await resume.ActionResumeWithCode().run(dispatcher, tracker_factory("someone-else", text=code), domain)
    assert "Welcome back" in texts(dispatcher)


async def test_forget_my_code_and_delete_my_data(store, tracker_factory, dispatcher, domain):
    code = await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    await resume.ActionForgetResumeCode().run(dispatcher, tracker_factory("old"), domain)
    assert "no longer works" in texts(dispatcher) and not store.has_resume_code("old")
    dispatcher.messages.clear()
    await resume.ActionResumeWithCode().run(dispatcher, tracker_factory("new3", text=code), domain)
    assert "don't recognise" in texts(dispatcher)
    # A new code, then "delete my data": gone with everything else.
    await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    assert store.has_resume_code("old")
    retention.delete_person_progress("old", store.engine)
    assert not store.has_resume_code("old")


async def test_no_code_without_consent_or_on_account_channels(store, tracker_factory, dispatcher, domain):
    await resume.ActionShowResumeCode().run(dispatcher, tracker_factory("nc", {"consent_storage": False}), domain)
    assert shown_code(dispatcher) is None and "not keeping your progress" in texts(dispatcher)
    store.set_consent("tg", True)
    tracker = tracker_factory("tg", {"consent_storage": True})
    tracker.events.append({"event": "user", "text": "hi", "input_channel": "telegram"})
    dispatcher.messages.clear()
    await resume.ActionShowResumeCode().run(dispatcher, tracker, domain)
    assert shown_code(dispatcher) is None and "with your account" in texts(dispatcher)


async def test_withdrawing_consent_deletes_the_code(store, tracker_factory, dispatcher, domain):
    await onboarded_with_code(store, tracker_factory, dispatcher, domain)
    store.set_consent("old", False)
    assert not store.has_resume_code("old")


def test_the_tracker_store_never_keeps_a_code_in_clear():
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.stores import redact_resume_codes

    code = codes.new_code()
    tracker = DialogueStateTracker.from_events(
        "r",
        [
            UserUttered("how do i come back later", intent={"name": "ask_resume_code"}),
            BotUttered(f"Your resume code is: {code}"),
        ],
    )
    redact_resume_codes(tracker)
    assert code not in str([e.as_dict() for e in tracker.events])
    tracker.update(UserUttered(code, intent={"name": "enter_resume_code"}, parse_data={"text": code}))
    redact_resume_codes(tracker)
    assert code not in str([e.as_dict() for e in tracker.events])


@pytest.mark.parametrize("text", ["maple river", "one two three four five", "/affirm"])
def test_the_nlu_component_only_takes_codes(text):
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.resume_code import ResumeCodeMatcher

    message = Message(data={"text": text})
    ResumeCodeMatcher().process([message])
    assert message.get("intent") is None
    code_message = Message(data={"text": codes.new_code()})
    ResumeCodeMatcher().process([code_message])
    assert code_message.get("intent")["name"] == "enter_resume_code"
