"""Custom actions with a real Tracker, CollectingDispatcher and a temporary SQLite store."""

import pytest
from rasa_sdk.events import FollowupAction

from bot.actions import coaching, onboarding, safety
from bot.actions.common import SKIP_SENTINEL, menu, parse_region, parse_yes_no
from bot.coaching import curriculum

ONBOARDED = {"onboarded": True, "consent_storage": True}
ALL_STEP_TITLES = [s.title for s in curriculum.steps()]
CLOSED_AFTER_FLAG = [s for s in curriculum.steps() if not s.open_after_flag]


def texts(dispatcher):
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def responses(dispatcher):
    return [m.get("response") for m in dispatcher.messages if m.get("response")]


def payloads(dispatcher):
    return [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# ---------------------------------------------------------------- parsing answers
@pytest.mark.parametrize(
    "intent, text, expected",
    [
        ("affirm", "/affirm", True),
        ("deny", "/deny", False),
        (None, "sometimes", True),
        (None, "not really", False),
        (None, "banana", None),
        (None, "", None),
    ],
)
def test_yes_no(tracker_factory, intent, text, expected):
    assert parse_yes_no(tracker_factory(text=text, intent=intent), text) is expected


@pytest.mark.parametrize(
    "text, entities, expected",
    [
        ("I'm in the UK", [], "UK"),
        ("australia", [], "AU"),
        ("Ireland", [], "IE"),
        ("/inform_region", [{"entity": "region", "value": "CA"}], "CA"),
        ("somewhere else", [], "other"),
        ("Narnia", [], None),
    ],
)
def test_region(tracker_factory, text, entities, expected):
    assert parse_region(tracker_factory(text=text, entities=entities), text) == expected


# ---------------------------------------------------------------- onboarding
async def test_screen_stops_at_the_first_positive_answer(tracker_factory, dispatcher, domain):
    form = onboarding.ValidateOnboardingForm()
    tracker = tracker_factory(slots={"safe_to_talk": True, "screen_humiliated": False, "screen_afraid": True})
    required = await form.required_slots(
        list(domain["forms"]["onboarding_form"]["required_slots"]), dispatcher, tracker, domain
    )
    assert required[-1] == "screen_afraid"
    assert "screen_forced" not in required


def test_onboarding_asks_for_the_country(domain):
    """The region slot must start empty, or the form would never ask (US is the replies' default)."""
    assert "initial_value" not in domain["slots"]["region"]
    assert "region" in domain["forms"]["onboarding_form"]["required_slots"]


async def test_not_safe_to_talk_ends_the_form(tracker_factory, dispatcher, domain):
    form = onboarding.ValidateOnboardingForm()
    tracker = tracker_factory(slots={"safe_to_talk": False})
    assert await form.required_slots([], dispatcher, tracker, domain) == ["consent_storage", "safe_to_talk"]


async def test_unclear_answer_is_asked_again(tracker_factory, dispatcher, domain):
    form = onboarding.ValidateOnboardingForm()
    result = form.validate_screen_hurt("purple", dispatcher, tracker_factory(text="purple"), domain)
    assert result == {"screen_hurt": None}
    assert "yes or a no" in texts(dispatcher)


@pytest.mark.parametrize(
    "text,intent,expected",
    [
        ("don't save anything", "withdraw_storage_consent", False),
        ("yes keep my progress", "give_storage_consent", True),
        ("no", "deny", False),
    ],
)
def test_consent_question_understands_storage_requests(tracker_factory, dispatcher, domain, text, intent, expected):
    """A consent request typed as an answer counts as the answer, not as "I need a yes or a no"."""
    form = onboarding.ValidateOnboardingForm()
    result = form.validate_consent_storage(text, dispatcher, tracker_factory(text=text, intent=intent), domain)
    assert result == {"consent_storage": expected}
    assert "yes or a no" not in texts(dispatcher)


NEGATIVE_SCREEN = {
    "consent_storage": True,
    "safe_to_talk": True,
    "region": "US",
    "screen_humiliated": False,
    "screen_afraid": False,
    "screen_forced": False,
    "screen_hurt": False,
    "screen_feels_safe": True,
    "screen_ex_unsafe": False,
}


async def test_negative_screen_opens_the_menu_with_every_group(tracker_factory, dispatcher, domain, store):
    events = await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("n1", NEGATIVE_SCREEN), domain)
    assert slot_events(events) == {"onboarded": True, "screen_followup": None, "screen_all": None}
    for group in curriculum.GROUPS:
        assert '/show_menu{"group": "%s"}' % group in payloads(dispatcher)
    assert responses(dispatcher) == []
    profile = store.profile("n1")
    assert profile.onboarded and profile.consent and profile.region == "US" and not profile.flagged


async def test_positive_screen_escalates_and_flags(tracker_factory, dispatcher, domain, store):
    slots = dict(NEGATIVE_SCREEN, screen_feels_safe=False)
    events = await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("p1", slots), domain)
    assert responses(dispatcher) == ["utter_escalate_violence"]
    assert slot_events(events)["violence_flag"] is True
    assert store.is_flagged("p1")
    for step in CLOSED_AFTER_FLAG:
        assert '"%s"' % step.id not in " ".join(payloads(dispatcher))
    assert "/ask_individual_support" in payloads(dispatcher)


async def test_declined_storage_writes_nothing(tracker_factory, dispatcher, domain, store):
    slots = dict(NEGATIVE_SCREEN, consent_storage=False)
    await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("d1", slots), domain)
    assert not store.profile("d1").known


async def test_declined_storage_but_positive_screen_writes_only_the_flag(tracker_factory, dispatcher, domain, store):
    slots = dict(NEGATIVE_SCREEN, consent_storage=False, screen_hurt=True)
    await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("d2", slots), domain)
    profile = store.profile("d2")
    assert profile.flagged and not profile.known


async def test_not_safe_to_talk_pauses_and_asks_again_later(tracker_factory, dispatcher, domain, store):
    events = await onboarding.ActionOnboardingOutcome().run(
        dispatcher, tracker_factory("s1", {"consent_storage": True, "safe_to_talk": False}), domain
    )
    said = texts(dispatcher).lower()
    assert "pause" in said and "pick up where we left off" in said and "danger" in said
    assert slot_events(events)["safe_to_talk"] is None
    assert not store.profile("s1").onboarded


async def test_session_start_restores_progress_and_flag(tracker_factory, dispatcher, domain, store):
    store.set_consent("r1", True)
    store.set_region("r1", "AU")
    store.mark_onboarded("r1")
    store.complete_step("r1", "budget", "fine")
    store.flag("r1")
    events = await onboarding.ActionSessionStart().run(dispatcher, tracker_factory("r1"), domain)
    slots = slot_events(events)
    assert slots["violence_flag"] is True and slots["onboarded"] is True
    assert slots["region"] == "AU" and slots["steps_done"] == ["budget"]
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"


async def test_session_start_survives_a_broken_store(tracker_factory, dispatcher, domain, monkeypatch):
    monkeypatch.setenv("PROGRESS_DB_URL", "sqlite:////nonexistent-dir/x/y.db")
    events = await onboarding.ActionSessionStart().run(
        dispatcher, tracker_factory("b1", {"violence_flag": True}), domain
    )
    assert slot_events(events)["violence_flag"] is True


async def test_welcome_back_says_where_they_left_off(tracker_factory, dispatcher, domain, store):
    store.set_consent("w1", True)
    store.complete_step("w1", "accountability", "listen more")
    tracker = tracker_factory("w1", dict(ONBOARDED))
    await onboarding.ActionWelcomeBack().run(dispatcher, tracker, domain)
    assert 'finished "Hold yourself accountable"' in texts(dispatcher)


async def test_every_form_question_is_asked_by_a_response_or_a_screening_action(dispatcher, tracker_factory, domain):
    """A question is domain.yml's utter_ask_<slot> (channels know it by name); a screening item is
    asked by action_ask_<slot>, which sends one of its responses by name. No action is registered
    without a slot (rasa-sdk registers every concrete Action subclass)."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("bot.actions")
    assert "action_ask_" not in executor.actions
    for slot in domain["forms"]["onboarding_form"]["required_slots"]:
        assert f"utter_ask_{slot}" in domain["responses"], slot
        asked_by_action = f"action_ask_{slot}" in domain["actions"]
        assert asked_by_action == (slot in onboarding.SCREEN_SLOTS), slot
        assert asked_by_action == (f"action_ask_{slot}" in executor.actions), slot
    ask = onboarding.AskScreenFeelsSafe()
    followups = [None] + [{"item": "screen_feels_safe", "stage": stage} for stage in ("unclear", "who", "confirm")]
    followups.append({"item": "screen_hurt", "stage": "confirm"})
    for followup in followups:
        await ask.run(dispatcher, tracker_factory(slots={"screen_followup": followup}), domain)
    sent = [m["response"] for m in dispatcher.messages]
    assert sent == [
        "utter_ask_screen_feels_safe",
        "utter_ask_screen_feels_safe_unclear",
        "utter_ask_screen_who",
        "utter_ask_screen_feels_safe_confirm",
        "utter_ask_screen_feels_safe",  # a follow-up of another item is not this one's
    ]
    assert all(name in domain["responses"] for name in sent)


# ---------------------------------------------------------------- menu and steps
def test_menu_lists_the_groups_with_counts_and_a_group_lists_its_steps():
    text, buttons = menu(done=["accountability"], in_progress=["budget"], flagged=False)
    assert "On your own: 2 of 5 done" in text  # accountability, and the screen done at the start
    assert [b["payload"] for b in buttons[: len(curriculum.GROUPS)]] == [
        '/show_menu{"group": "%s"}' % g for g in curriculum.GROUPS
    ]
    text, buttons = menu(done=["accountability"], in_progress=["budget"], flagged=False, group="on_your_own")
    assert "Hold yourself accountable (done)" in text
    assert "Consider your budget (in progress)" in text
    assert '/start_step{"step": "homework"}' in [b["payload"] for b in buttons]
    every_group = "\n".join(menu([], [], False, g)[0] for g in curriculum.GROUPS)
    for title in ALL_STEP_TITLES:
        assert title in every_group


@pytest.mark.parametrize("group", (None,) + curriculum.GROUPS)
def test_flagged_menu_closes_the_partner_path(group):
    text, buttons = menu(done=[], in_progress=[], flagged=True, group=group)
    for step in CLOSED_AFTER_FLAG:
        assert step.title not in text
        assert all('"%s"' % step.id not in b["payload"] for b in buttons)
    assert {"title": "Support for me", "payload": "/ask_individual_support"} in buttons


async def test_start_step_explains_and_opens_the_question(tracker_factory, dispatcher, domain, store):
    store.set_consent("c1", True)
    tracker = tracker_factory(
        "c1", dict(ONBOARDED), intent="start_step", entities=[{"entity": "step", "value": "budget"}]
    )
    events = await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert slot_events(events)["step_ready"] is True
    assert slot_events(events)["active_step"] == "budget"
    assert "Consider your budget" in texts(dispatcher)
    assert store.profile("c1").in_progress == ["budget"]


@pytest.mark.parametrize("step", [s for s in curriculum.steps() if s.available])
async def test_every_step_explains_in_order_then_asks(tracker_factory, dispatcher, domain, step):
    tracker = tracker_factory("c2", dict(ONBOARDED), entities=[{"entity": "step", "value": step.id}])
    events = await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert slot_events(events)["step_ready"] is True and slot_events(events)["active_step"] == step.id
    sent = [m["text"] for m in dispatcher.messages]
    assert sent[0] == f"{step.title}\n{step.explain[0]}" and sent[1 : len(step.explain)] == step.explain[1:]


async def test_budget_step_adds_the_practice_rates_as_estimates(tracker_factory, dispatcher, domain):
    tracker = tracker_factory("c3", dict(ONBOARDED), entities=[{"entity": "step", "value": "budget"}])
    await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    text = texts(dispatcher)
    assert "$140" in text and "$60" in text and "12 sessions" in text and "$1,740" in text
    assert "estimates" in text and "insurer" in text and "https://example.org/book" in text


async def test_budget_for_a_flagged_user_prices_sessions_on_their_own(tracker_factory, dispatcher, domain):
    tracker = tracker_factory(
        "c4", dict(ONBOARDED, violence_flag=True), entities=[{"entity": "step", "value": "budget"}]
    )
    await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert "$110" in texts(dispatcher)
    estimate = coaching.budget_estimate(flagged=True)[0]
    assert "$110" in estimate and "couples" not in estimate and "estimates" in estimate


@pytest.mark.parametrize("step", [s.id for s in CLOSED_AFTER_FLAG])
async def test_partner_steps_are_closed_after_a_violence_signal(tracker_factory, dispatcher, domain, step):
    tracker = tracker_factory("f1", dict(ONBOARDED, violence_flag=True), entities=[{"entity": "step", "value": step}])
    events = await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert slot_events(events) == {"step_ready": False}
    assert responses(dispatcher) == ["utter_individual_support"]


async def test_flag_from_an_earlier_session_closes_the_partner_path(tracker_factory, dispatcher, domain, store):
    store.flag("f2")
    tracker = tracker_factory("f2", dict(ONBOARDED), entities=[{"entity": "step", "value": "test_drive"}])
    await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_individual_support"]


async def test_steps_before_onboarding_start_onboarding(tracker_factory, dispatcher, domain):
    tracker = tracker_factory("o1", entities=[{"entity": "step", "value": "budget"}])
    events = await coaching.ActionStartStep().run(dispatcher, tracker, domain)
    assert FollowupAction("onboarding_form") in events and slot_events(events) == {"step_ready": False}
    assert responses(dispatcher) == ["utter_intro"]


def test_reflection_validation(tracker_factory, dispatcher, domain):
    form = coaching.ValidateReflectionForm()
    slots = {"active_step": "budget"}

    def check(text, intent=None):
        return form.validate_reflection_answer(
            text, dispatcher, tracker_factory(slots=slots, text=text, intent=intent), domain
        )

    assert check("skip", "skip") == {"reflection_answer": SKIP_SENTINEL, "reflection_pending": None}
    assert check("ok") == {"reflection_answer": None, "reflection_pending": None}
    long_answer = "I want to stop skipping the hard conversations and stay in them"
    assert check(long_answer, "skip") == {"reflection_answer": long_answer, "reflection_pending": None}
    weird = "line\x00with\x07control"
    assert "\x00" not in check(weird)["reflection_answer"]


async def test_saving_a_reflection_marks_the_step_done_and_offers_the_next(tracker_factory, dispatcher, domain, store):
    store.set_consent("s2", True)
    tracker = tracker_factory("s2", dict(ONBOARDED, active_step="accountability", reflection_answer="I raise my voice"))
    events = await coaching.ActionSaveReflection().run(dispatcher, tracker, domain)
    assert slot_events(events)["steps_done"] == ["accountability"]
    assert store.profile("s2").done == ["accountability"]
    assert '/start_step{"step": "commitment"}' in payloads(dispatcher)
    assert "saved" in texts(dispatcher)


async def test_without_consent_the_step_is_done_in_the_conversation_only(tracker_factory, dispatcher, domain, store):
    tracker = tracker_factory(
        "s3", dict(ONBOARDED, consent_storage=False, active_step="budget", reflection_answer="Two sessions")
    )
    events = await coaching.ActionSaveReflection().run(dispatcher, tracker, domain)
    assert slot_events(events)["steps_done"] == ["budget"]
    assert not store.profile("s3").known
    assert "not storing" in texts(dispatcher)


async def test_a_failed_save_is_never_silent(tracker_factory, dispatcher, domain, monkeypatch):
    monkeypatch.setenv("PROGRESS_DB_URL", "sqlite:////nonexistent-dir/x/y.db")
    tracker = tracker_factory("s4", dict(ONBOARDED, active_step="budget", reflection_answer="Two sessions"))
    events = await coaching.ActionSaveReflection().run(dispatcher, tracker, domain)
    assert "NOT stored" in texts(dispatcher)
    assert "budget" not in slot_events(events)["steps_done"]


async def test_what_next_recommends_the_first_unfinished_step(tracker_factory, dispatcher, domain):
    tracker = tracker_factory("n2", dict(ONBOARDED, consent_storage=False, steps_done=["accountability"]))
    await coaching.ActionWhatNext().run(dispatcher, tracker, domain)
    assert '/start_step{"step": "commitment"}' in payloads(dispatcher)


async def test_progress_shows_a_checklist_with_dates_and_answers(tracker_factory, dispatcher, domain, store):
    store.set_consent("g1", True)
    store.start_step("g1", "homework")
    store.complete_step("g1", "budget", "we checked insurance")
    await coaching.ActionShowProgress().run(dispatcher, tracker_factory("g1", dict(ONBOARDED)), domain)
    text = texts(dispatcher)
    assert "[x] Consider your budget: done" in text
    assert "[~] Do your homework: in progress" in text
    assert "we checked insurance" in text


async def test_log_safety_flag(tracker_factory, dispatcher, domain, store):
    events = await safety.ActionLogSafetyFlag().run(dispatcher, tracker_factory("l1"), domain)
    assert slot_events(events) == {"violence_flag": True, "safety_level": "replied", "checkin_pending": False}
    assert store.is_flagged("l1")


async def test_withdrawing_consent_deletes_stored_progress(tracker_factory, dispatcher, domain, store):
    store.set_consent("k1", True)
    store.complete_step("k1", "budget", "x")
    tracker = tracker_factory("k1", dict(ONBOARDED), intent="withdraw_storage_consent")
    events = await onboarding.ActionSetConsent().run(dispatcher, tracker, domain)
    assert slot_events(events) == {"consent_storage": False}
    assert not store.profile("k1").known
