"""The conversation a real client has (issue 18), with the trained bot and a real action server:
a short onboarding with natural answers, buttons typed as text, good news, steps that listen, and
storage that keeps its word."""

from __future__ import annotations

import pytest

from bot.coaching import curriculum
from tests.safety_harness import ONBOARDING_NEGATIVE, conversation, say

pytestmark = pytest.mark.integration


def joined(replies):
    return "\n".join(r.get("text") or "" for r in replies)


def payloads(replies):
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


async def slot(agent, sender, name):
    return (await agent.tracker_store.retrieve(sender)).get_slot(name)


async def test_first_help_within_five_turns_with_the_whole_screen(agent):
    """From "just tell me how to ask him" to coaching in five messages; the screen's six items are
    all asked (at once, "None of these" answering them)."""
    turns = [
        "just tell me how to ask him, quick pls",
        "yep",
        "ok im private enough, can we just go",
        "the US",
        "none of these",
    ]
    sender = "nat-first-help"
    replies_by_turn = [await say(agent, sender, text) for text in turns]
    assert "few quick questions" in joined(replies_by_turn[0])  # one useful sentence before the first question
    screen = joined(replies_by_turn[3])
    for item in ("humiliated", "afraid", "forced", "hurt", "don't feel safe", "unsafe now"):
        assert item in screen
    last = replies_by_turn[4]
    assert any(p.startswith(("/start_step", "/start_practice")) for p in payloads(last)), joined(last)
    assert await slot(agent, sender, "onboarded") is True


@pytest.mark.parametrize("consent, stored", [("y", True), ("yep", True), ("sí", True), ("nah", False), ("n", False)])
async def test_short_and_natural_answers(agent, consent, stored):
    sender, _ = await conversation(agent, ["hi", consent])
    assert await slot(agent, sender, "consent_storage") is stored


async def test_not_private_right_now_pauses_kindly_and_resumes(agent):
    sender, replies = await conversation(agent, ["hi", "yes", "not private right now"])
    assert "pause" in joined(replies) and "nothing is lost" in joined(replies)
    replies = await say(agent, sender, "hi")
    assert "somewhere private" in joined(replies)
    assert await slot(agent, sender, "consent_storage") is True


async def test_declining_storage_says_exactly_what_is_kept(agent):
    _, replies = await conversation(agent, ["hi", "No, don't store anything"])
    text = joined(replies)
    assert "deleted about 24 hours" in text and "safety note" in text
    assert "working memory" not in text


async def test_button_titles_typed_as_text(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    replies = await say(agent, sender, "On your own")
    assert "Hold yourself accountable" in joined(replies)
    replies = await say(agent, sender, "delete my data")
    assert "/affirm" in payloads(replies)
    replies = await say(agent, sender, "Yes, delete everything")
    assert "deleted everything" in joined(replies)


async def test_good_news_gets_the_next_steps(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    text = joined(await say(agent, sender, "he agreed!! what now?"))
    assert "wonderful" in text and "https://example.org/book" in text and "together" in text
    text = joined(await say(agent, sender, "he actually seemed softer this week"))
    assert "real step" in text and "test drive" in text


async def test_a_step_listens_before_it_saves(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + ['/start_step{"step": "test_drive"}'])
    replies = await say(agent, sender, "sorry i got interrupted, where was i?")
    assert "in the middle of" in joined(replies)
    assert await slot(agent, sender, "active_loop") is None or True  # the step goes on
    replies = await say(agent, sender, "can we just try one session, if you hate it we never go back? is that ok??")
    text = joined(replies)
    assert "Shall I save that" in text and "/affirm" in payloads(replies)
    replies = await say(agent, sender, "yes")
    assert "saved your answer" in joined(replies).lower()


async def test_a_question_inside_a_step_is_answered_not_saved(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + ['/start_step{"step": "budget"}'])
    replies = await say(agent, sender, "what happens in the first session?")
    assert "getting to know you both" in joined(replies)  # the practical answer
    budget = next(step for step in curriculum.steps() if step.id == "budget")
    assert any(question in joined(replies) for question in budget.question)  # then the step's question again
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name == "reflection_form" and not tracker.get_slot("reflection_answer")
    assert tracker.get_slot("steps_done") in (None, [])


async def test_an_unclear_question_inside_a_step_gets_no_wrong_answer_and_is_not_saved(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + ['/start_step{"step": "budget"}'])
    replies = await say(agent, sender, "hmm what about the kids, do we bring them?")
    text = joined(replies)
    assert "angry" not in text and ("Shall I save that" in text or "not sure which question" in text), text
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name == "reflection_form" and not tracker.get_slot("reflection_answer")


async def test_the_gender_step_includes_every_couple(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    text = joined(await say(agent, sender, '/start_step{"step": "gender"}'))
    assert "same-gender" in text and "LGBTQ-affirming" in text and "language" in text


def responses_sent(tracker):
    """The responses the bot sent in the last turn (custom actions' responses included)."""
    names = []
    for event in reversed(list(tracker.events)):
        if event.type_name == "user":
            break
        if event.type_name == "bot" and (event.metadata or {}).get("utter_action"):
            names.append(event.metadata["utter_action"])
        if event.type_name == "action":
            names.append(event.action_name)
    return list(reversed(names))


@pytest.mark.parametrize(
    "text, answer, words",
    [
        ("How do I find a couples therapist near me?", "utter_practical/find", "TherapistLocator"),
        ("can we do it online?", "utter_practical/online", "video"),
        ("how long does it take?", "utter_practical/how_long", "dozen"),
        (
            "is it confidential, will the therapist tell my husband what I say in a private session?",
            "utter_practical/confidential",
            "no secrets",
        ),
        ("what happens in the first session? he's nervous", "utter_practical/first_session", "test drive"),
        ("how much does it cost", "utter_practical/cost", "sliding scale"),
        ("Insurance doesn't cover couples stuff, I checked", "utter_practical/insurance", "employer assistance"),
        ("can my own therapist see us both?", "utter_practical/own_therapist", "separate couples therapist"),
        (
            "we're a same-sex couple, how do we find a therapist who won't judge us",
            "utter_practical/lgbtq",
            "same-gender",
        ),
    ],
)
async def test_practical_questions_get_their_answer(agent, text, answer, words):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    replies = await say(agent, sender, text)
    assert answer in responses_sent(await agent.tracker_store.retrieve(sender)), joined(replies)
    assert words.lower() in joined(replies).lower()


async def test_cost_question_shows_the_practice_figures_and_cheaper_options(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    text = joined(await say(agent, sender, "how much does couples counseling cost, we're broke"))
    assert "sliding scale" in text and "training clinics" in text and "$140" in text  # practice.yml's rate


async def test_a_practical_question_inside_a_step_is_answered_and_the_question_asked_again(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + ['/start_step{"step": "budget"}'])
    replies = await say(agent, sender, "is it confidential?")
    assert "no secrets" in joined(replies).lower()
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name == "reflection_form" and not tracker.get_slot("reflection_answer")


async def test_asking_the_partner_waits_for_the_safety_questions(agent):
    sender, replies = await conversation(agent, ["should i ask him by text or in person?"])
    assert "right after a few quick questions" in joined(replies)
    assert "calm, private moment" not in joined(replies)


@pytest.mark.parametrize(
    "text, objection",
    [
        ("he says there's no problem, we're fine", "no_problem"),
        ("my husband thinks therapists are quacks", "distrust"),
        ("she says we should just pray about it and talk to the pastor", "religious"),
        ("he doesn't want his secrets to come out in therapy", "secrets"),
        ("he says it will make things worse", "make_worse"),
    ],
)
async def test_objections_beyond_the_first_twelve(agent, text, objection):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    replies = await say(agent, sender, text)
    sent = responses_sent(await agent.tracker_store.retrieve(sender))
    assert f"utter_objection_{objection}" in sent, (sent, joined(replies))


async def test_two_objections_in_one_message_answer_one_and_offer_the_other(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    replies = await say(agent, sender, "my husband says counseling is for sissies, and a waste of money")
    sent = responses_sent(await agent.tracker_store.retrieve(sender))
    answered = {name.removeprefix("utter_objection_") for name in sent if name.startswith("utter_objection_")}
    offered = {p.removeprefix("/report_objection_") for p in payloads(replies) if p.startswith("/report_objection_")}
    assert len(answered) == 1 and len(offered) == 1, (sent, payloads(replies))
    assert answered | offered == {"stigma", "cost"}, (answered, offered)
    assert "something else too" in joined(replies)


async def test_two_questions_in_one_message_get_both_answers(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    replies = await say(agent, sender, "how much does it cost? and can we do it online?")
    sent = responses_sent(await agent.tracker_store.retrieve(sender))
    assert "utter_practical/cost" in sent and "utter_practical/online" in sent, sent
    assert "your other question" in joined(replies)
    replies = await say(agent, sender, "what happens in the first session? also how long does it take overall")
    text = joined(replies)
    assert "getting to know you both" in text and "a dozen sessions or more" in text


async def test_an_objection_with_a_question_gets_both_answers(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE)
    await say(agent, sender, "he says its a waste of money. is it confidential tho?")
    sent = responses_sent(await agent.tracker_store.retrieve(sender))
    assert "utter_objection_cost" in sent and "utter_practical/confidential" in sent, sent


async def test_a_message_that_asks_on_the_way_is_not_saved_as_the_answer(agent):
    sender, _ = await conversation(agent, ONBOARDING_NEGATIVE + ['/start_step{"step": "accountability"}'])
    replies = await say(agent, sender, "ok but what do u mean by my part? i raise my voice sometimes")
    assert "Shall I save that" in joined(replies)
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.active_loop_name == "reflection_form" and not tracker.get_slot("reflection_answer")


def code_in(replies):
    import re

    found = re.search(r"\b[a-z]+(?:-[a-z]+){3}\b", joined(replies))
    return found.group(0) if found else None


async def test_a_resume_code_brings_the_progress_to_a_new_conversation(agent):
    """Agreeing to keep progress shows a code; typed alone in a new conversation (a new tab), it
    continues where the person left off; "forget my code" revokes it."""
    sender, replies = await conversation(agent, ONBOARDING_NEGATIVE)
    code = code_in(replies)
    assert code and "type it as your first message" in joined(replies)
    await say(agent, sender, '/start_step{"step": "budget"}')
    replies = await say(agent, sender, "I'd set aside about a hundred a month for it")
    assert "saved your answer" in joined(replies), joined(replies)
    new_tab = sender + "-new-tab"
    replies = await say(agent, new_tab, code)
    assert "Welcome back" in joined(replies) and "1 step done" in joined(replies), joined(replies)
    assert await slot(agent, new_tab, "onboarded") is True and await slot(agent, new_tab, "steps_done") == ["budget"]
    # Asked for again: a new code (only a hash is kept, so the old one cannot be shown).
    replies = await say(agent, new_tab, "how do I come back later?")
    second = code_in(replies)
    assert second and second != code
    replies = await say(agent, new_tab, "forget my code")
    assert "no longer works" in joined(replies)
    replies = await say(agent, sender + "-third-tab", second)
    assert "don't recognise" in joined(replies)


async def test_a_resume_code_typed_after_hi_skips_the_questions(agent):
    sender, replies = await conversation(agent, ONBOARDING_NEGATIVE)
    code = code_in(replies)
    new_tab, _ = await conversation(agent, ["hi"])
    replies = await say(agent, new_tab, code)
    assert "Welcome back" in joined(replies)
    tracker = await agent.tracker_store.retrieve(new_tab)
    assert tracker.active_loop_name is None and tracker.get_slot("onboarded") is True


async def test_without_consent_there_is_no_code(agent):
    sender, replies = await conversation(
        agent, ["hi", "/deny", "/affirm", '/inform_region{"region": "US"}', "none of these"]
    )
    assert code_in(replies) is None
    replies = await say(agent, sender, "how do I come back later?")
    assert "not keeping your progress" in joined(replies) and code_in(replies) is None


async def test_skip_at_the_storage_question_stores_nothing_for_now(agent):
    sender, replies = await conversation(agent, ["hi", "skip"])
    assert "won't keep your steps" in joined(replies) and "somewhere private" in joined(replies)
    assert await slot(agent, sender, "consent_storage") is False


async def test_how_do_i_come_back_during_the_first_questions_does_not_answer_them(agent):
    sender, replies = await conversation(agent, ["hi", "/affirm", "how do I come back later?"])
    assert "pause" not in joined(replies) and "somewhere private" in joined(replies)
    assert "as soon as these few questions are done" in joined(replies)
    assert await slot(agent, sender, "safe_to_talk") is None
