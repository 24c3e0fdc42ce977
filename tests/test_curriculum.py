"""The whole curriculum around the steps: what's next by situation, coming back, start over,
the budget helper's practice settings, the layered fallback, objections after a violence flag."""

import pytest
import yaml

from bot.actions import coaching, fallback, onboarding
from bot.coaching import curriculum
from bot.content import practice

ONBOARDED = {"onboarded": True, "consent_storage": True}
ON_YOUR_OWN = [s.id for s in curriculum.group_steps("on_your_own") if s.available]


def texts(dispatcher):
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def payloads(dispatcher):
    return [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# ---------------------------------------------------------------- what's next fits the situation
def test_next_step_starts_on_your_own_then_follows_the_path():
    assert curriculum.next_step([], False).id == "accountability"
    assert curriculum.next_step(ON_YOUR_OWN, False).group == "understand_partner"
    assert curriculum.next_step(ON_YOUR_OWN, False, path="alone").id == "therapy_for_one"


def test_next_step_answers_the_latest_objection_after_the_steps_on_your_own():
    assert curriculum.next_step(ON_YOUR_OWN, False, objection="separation_fear").id == "positive_tone"
    assert curriculum.next_step(ON_YOUR_OWN + ["positive_tone"], False, objection="separation_fear").id == "good_time"


def test_next_step_after_a_flag_offers_only_what_stays_open():
    assert curriculum.next_step([], True).id == "budget"
    assert curriculum.next_step(["budget"], True, path="alone", objection="cost") is None


def test_every_step_is_reachable_by_whats_next():
    done, seen = [], []
    while (step := curriculum.next_step(done, False)) is not None:
        seen.append(step.id)
        done.append(step.id)
    assert set(seen) == {s.id for s in curriculum.steps() if s.available}


async def test_what_next_when_everything_is_done_shows_the_menu(tracker_factory, dispatcher, domain):
    everything = [s.id for s in curriculum.steps()]
    await coaching.ActionWhatNext().run(
        dispatcher, tracker_factory("n1", dict(ONBOARDED, steps_done=everything)), domain
    )
    assert "every step" in texts(dispatcher)
    assert '/show_menu{"group": "on_your_own"}' in payloads(dispatcher)


# ---------------------------------------------------------------- coming back, start over
async def test_coming_back_offers_to_continue_the_step_in_progress(tracker_factory, dispatcher, domain, store):
    store.set_consent("b1", True)
    store.complete_step("b1", "accountability", "listen first")
    store.start_step("b1", "homework")
    await onboarding.ActionWelcomeBack().run(dispatcher, tracker_factory("b1", dict(ONBOARDED)), domain)
    assert 'middle of "Do your homework"' in texts(dispatcher)
    assert payloads(dispatcher)[:3] == ['/start_step{"step": "homework"}', "/show_menu", "/start_over"]


async def test_coming_back_after_a_finished_step_offers_the_next(tracker_factory, dispatcher, domain, store):
    store.set_consent("b2", True)
    store.complete_step("b2", "accountability", "listen first")
    await onboarding.ActionWelcomeBack().run(dispatcher, tracker_factory("b2", dict(ONBOARDED)), domain)
    assert 'finished "Hold yourself accountable"' in texts(dispatcher)
    assert payloads(dispatcher)[0] == '/start_step{"step": "commitment"}'


async def test_coming_back_flagged_never_offers_a_closed_step(tracker_factory, dispatcher, domain, store):
    store.set_consent("b3", True)
    store.start_step("b3", "test_drive")
    store.flag("b3")
    await onboarding.ActionWelcomeBack().run(dispatcher, tracker_factory("b3", dict(ONBOARDED)), domain)
    assert "test_drive" not in " ".join(payloads(dispatcher))
    assert payloads(dispatcher)[0] == "/ask_individual_support"


async def test_start_over_clears_steps_and_answers_but_keeps_settings_and_flag(
    tracker_factory, dispatcher, domain, store
):
    store.set_consent("s1", True)
    store.set_region("s1", "UK")
    store.complete_step("s1", "accountability", "listen first")
    store.start_step("s1", "homework")
    store.flag("s1")
    slots = dict(ONBOARDED, start_over_confirmed=True, steps_done=["accountability"], violence_flag=True)
    events = await coaching.ActionStartOver().run(dispatcher, tracker_factory("s1", slots), domain)
    profile = store.profile("s1")
    assert profile.done == [] and profile.in_progress == [] and profile.answers == []
    assert profile.consent and profile.region == "UK" and profile.flagged
    assert slot_events(events)["steps_done"] == [] and slot_events(events)["start_over_confirmed"] is None
    assert "starting fresh" in texts(dispatcher)


async def test_start_over_cancelled_keeps_everything(tracker_factory, dispatcher, domain, store):
    store.set_consent("s2", True)
    store.complete_step("s2", "accountability", "listen first")
    slots = dict(ONBOARDED, start_over_confirmed=False)
    events = await coaching.ActionStartOver().run(dispatcher, tracker_factory("s2", slots), domain)
    assert store.profile("s2").done == ["accountability"] and "steps_done" not in slot_events(events)
    assert "kept everything" in texts(dispatcher)


async def test_start_over_with_the_store_down_changes_nothing_and_says_so(
    tracker_factory, dispatcher, domain, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    def broken(*_):
        raise OperationalError("x", {}, Exception("down"))

    monkeypatch.setattr(coaching.common.ProgressStore, "reset_progress", broken)
    slots = dict(ONBOARDED, start_over_confirmed=True, steps_done=["accountability"])
    events = await coaching.ActionStartOver().run(dispatcher, tracker_factory("s3", slots), domain)
    assert "nothing was changed" in texts(dispatcher) and "steps_done" not in slot_events(events)


# ---------------------------------------------------------------- an objection with the first message
async def test_an_objection_before_onboarding_is_answered_after_a_negative_screen(tracker_factory, dispatcher, domain):
    slots = {
        "consent_storage": False,
        "safe_to_talk": True,
        "region": "US",
        "screen_humiliated": False,
        "screen_afraid": False,
        "screen_forced": False,
        "screen_hurt": False,
        "screen_feels_safe": True,
        "screen_ex_unsafe": False,
        "last_objection": "cost",
    }
    await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("o1", slots), domain)
    assert [m.get("response") for m in dispatcher.messages if m.get("response")] == ["utter_objection_cost"]


async def test_an_objection_before_a_positive_screen_is_never_answered(tracker_factory, dispatcher, domain):
    slots = {
        "consent_storage": False,
        "safe_to_talk": True,
        "region": "US",
        "screen_humiliated": True,
        "last_objection": "cost",
    }
    await onboarding.ActionOnboardingOutcome().run(dispatcher, tracker_factory("o2", slots), domain)
    assert [m.get("response") for m in dispatcher.messages if m.get("response")] == ["utter_escalate_violence"]


# ---------------------------------------------------------------- after a violence flag
def _rules():
    from pathlib import Path

    rules = []
    for path in sorted(Path("bot/data/rules").glob("*.yml")):
        rules += yaml.safe_load(path.read_text())["rules"]
    return rules


def _flag_condition(rule):
    for item in rule.get("condition") or []:
        for slot in item.get("slot_was_set") or []:
            if "violence_flag" in slot:
                return slot["violence_flag"]
    return None


def _intents(rule):
    found = []
    for step in rule["steps"]:
        if "intent" in step:
            found.append(step["intent"])
        for alternative in step.get("or") or []:
            found.append(alternative["intent"])
    return found


@pytest.mark.parametrize("objection", list(curriculum.objections()))
def test_after_a_flag_no_objection_gets_partner_coaching(objection):
    """Every rule that answers this objection with coaching requires violence_flag false."""
    intent = f"report_objection_{objection}"
    rules = [r for r in _rules() if intent in _intents(r)]
    coaching_rules = [r for r in rules if any(s.get("action") == f"utter_objection_{objection}" for s in r["steps"])]
    assert coaching_rules and all(_flag_condition(r) is False for r in coaching_rules)
    flagged = [r for r in rules if _flag_condition(r) is True]
    assert flagged and all(any(s.get("action") == "utter_objection_flagged" for s in r["steps"]) for r in flagged)
    assert all(s.get("action") != f"utter_objection_{objection}" for r in flagged for s in r["steps"])


def test_going_alone_after_a_flag_is_support_for_the_user():
    rules = [r for r in _rules() if "ask_going_alone" in _intents(r)]
    assert {(_flag_condition(r), r["steps"][1]["action"]) for r in rules} == {
        (False, "utter_going_alone"),
        (True, "utter_individual_support"),
    }


# ---------------------------------------------------------------- practice settings
def _settings():
    return yaml.safe_load(practice.DEFAULT_PATH.read_text())


def test_the_shipped_practice_settings_are_valid():
    p = practice.parse(_settings())
    assert p.rates["couples_session"] > 0 and p.typical_sessions == 12 and p.insurer_questions


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["practice"]["rates"].update(couples_session="lots"), "practice.rates.couples_session"),
        (lambda d: d["practice"]["rates"].pop("consultation"), "practice.rates.consultation"),
        (lambda d: d["practice"].update(booking_link="example.org"), "practice.booking_link"),
        (lambda d: d["practice"].update(region="Mars"), "practice.region"),
        (lambda d: d["practice"].update(name=""), "practice.name"),
        (lambda d: d["practice"].update(typical_sessions=0), "practice.typical_sessions"),
        (lambda d: d["practice"].update(insurer_questions=[]), "practice.insurer_questions"),
    ],
)
def test_a_bad_practice_setting_is_named(change, field):
    data = _settings()
    change(data)
    with pytest.raises(practice.PracticeSettingsError, match=field.replace(".", r"\.")):
        practice.parse(data, "practice.yml")


def test_the_check_command_names_the_bad_field(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "practice.yml"
    data = _settings()
    data["practice"]["rates"]["individual_session"] = -5
    broken.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("PRACTICE_SETTINGS", str(broken))
    assert practice.main(["check"]) == 1
    assert "practice.rates.individual_session must be a positive number" in capsys.readouterr().err
    monkeypatch.setenv("PRACTICE_SETTINGS", str(tmp_path / "missing.yml"))
    assert practice.main(["check"]) == 1


# ---------------------------------------------------------------- layered fallback
def test_did_you_mean_offers_readable_guesses_and_never_a_danger_intent():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "disclose_violence", "confidence": 0.3},
        {"name": "report_objection_cost", "confidence": 0.25},
        {"name": "affirm", "confidence": 0.2},
        {"name": "what_next", "confidence": 0.15},
        {"name": "start_step", "confidence": 0.12},
    ]
    assert fallback.guesses({"intent_ranking": ranking}) == ["report_objection_cost", "what_next"]


def test_every_guessable_intent_has_a_readable_name(domain):
    readable = curriculum.messages()["fallback"]["intents"]
    guessable = [i for i in domain["intents"] if i not in fallback.NOT_GUESSED]
    assert sorted(guessable) == sorted(readable)
    assert {"withdraw_storage_consent", "start_over"} <= fallback.NOT_GUESSED  # a guess never deletes data


async def test_did_you_mean_has_buttons_and_a_way_out(tracker_factory, dispatcher, domain):
    tracker = tracker_factory("f1", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "ask_progress", "confidence": 0.3}]
    await fallback.ActionDefaultAskAffirmation().run(dispatcher, tracker, domain)
    (message,) = dispatcher.messages
    assert [b["payload"] for b in message["buttons"]] == ["/ask_progress", "/out_of_scope"]
    assert message["buttons"][0]["title"] == "See your progress"


async def test_the_last_fallback_is_never_a_dead_end(tracker_factory, dispatcher, domain):
    events = await fallback.ActionDefaultFallback().run(dispatcher, tracker_factory("f2"), domain)
    assert {"/what_next", "/show_menu", "/ask_help"} <= set(payloads(dispatcher))
    assert events[0]["event"] == "rewind"
