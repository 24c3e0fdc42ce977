"""bot/rasa_ext: one test (or more) per change to Rasa's internals, each against Rasa's own
behaviour, so a new Rasa that behaves differently under a change fails here.

A failing custom action gets the calm reply (once per message) and the action timeout comes from
the environment: with Rasa's own RemoteAction against a port nobody listens on
(tests/integration/test_faults.py does the same with the real servers). The Redis lock store's
transaction is tested in tests/scale/test_stores.py and test_scaled.py, with a real Redis."""

from __future__ import annotations

import pytest
from rasa.core.actions import action as rasa_action
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_ext
from bot.coaching import curriculum
from bot.rasa_ext import actions as actions_ext

CLOSED = EndpointConfig("http://127.0.0.1:1/webhook")


@pytest.fixture(scope="module", autouse=True)
def installed():
    original_run, original_timeout = rasa_action.RemoteAction.run, rasa_action.DEFAULT_REQUEST_TIMEOUT
    original_validate = rasa_action.RemoteAction._validate_action_result
    rasa_ext.install()
    yield
    rasa_action.RemoteAction.run, rasa_action.DEFAULT_REQUEST_TIMEOUT = original_run, original_timeout
    rasa_action.RemoteAction._validate_action_result = original_validate


async def run_failing(tracker):
    remote = rasa_action.RemoteAction("action_show_menu", CLOSED)
    return await remote.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, Domain.empty())


async def test_a_failed_action_gets_the_calm_reply_once_per_message():
    tracker = DialogueStateTracker("s", [])
    tracker.update(UserUttered("menu"))
    events = await run_failing(tracker)
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert events[0].text == curriculum.text(actions_ext.FAILURE_MESSAGE)
    tracker.update(events[0])
    assert await run_failing(tracker) == []  # a second failing action in the same turn: no repeat
    tracker.update(UserUttered("menu again"))
    assert len(await run_failing(tracker)) == 1  # a new message: told again


async def test_a_rejection_is_still_rasa_s_to_handle(monkeypatch):
    async def reject(*args, **kwargs):
        raise rasa_action.ActionExecutionRejection("validate_onboarding_form")

    monkeypatch.setattr(EndpointConfig, "request", reject)
    with pytest.raises(rasa_action.ActionExecutionRejection):
        await run_failing(DialogueStateTracker.from_events("s", [UserUttered("x")]))


def test_the_action_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "4")
    rasa_ext.install()
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 4.0
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "soon")
    with pytest.raises(SystemExit):
        actions_ext.action_timeout()


RESPONSES = [
    {"events": [{"event": "slot", "name": "step", "value": "budget"}], "responses": [{"text": "hi", "buttons": []}]},
    {"events": [], "responses": []},
    {},
    {"events": "not a list"},
    {"events": [{"event": 3}]},
    {"responses": [{"text": 5}], "events": []},
    {"events": [{"no_event_key": True}]},
    # each event against its own type's schema (bot/actions_ext.py _event_validators)
    {
        "events": [
            {"event": "slot", "name": "step", "value": None, "timestamp": None},
            {"event": "active_loop", "name": None},
            {"event": "bot", "text": "ok", "data": {}, "metadata": {}},
            {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
            {"event": "followup", "name": "utter_greet"},
            {"event": "reset_slots"},
        ]
    },
    {"events": [{"event": "slot", "name": "step"}]},  # no value: invalid
    {"events": [{"event": "slot", "value": 1, "name": 2}]},  # name not a string
    {"events": [{"event": "no_such_event"}]},  # unknown type
    {"events": [{"event": "bot", "text": 3}]},  # right type, wrong field
    {"events": [{"event": "bot", "text": "ok", "timestamp": "noon"}]},  # common field wrong
    {"events": [{"event": "bot", "text": "ok"}, "not an event"]},
    {"events": [{"event": "slot", "name": "step", "value": 1}], "responses": "not a list"},
    {"events": None},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("response", RESPONSES)
def test_action_responses_are_judged_as_rasa_judges_them(response):
    """The schema is checked once (bot/actions_ext.py); each response gets Rasa's own verdict and error."""
    import jsonschema

    remote = rasa_action.RemoteAction("action_show_menu", CLOSED)
    assert getattr(rasa_action.RemoteAction._validate_action_result, "_cached_validator", False)
    try:
        jsonschema.validate(response, remote.action_response_format_spec())
        expected = None
    except jsonschema.ValidationError as error:
        expected = error.message
    if expected is None:
        assert remote._validate_action_result(response) is True
    else:
        with pytest.raises(jsonschema.ValidationError) as raised:
            remote._validate_action_result(response)
        assert raised.value.message.startswith(expected + ". Failed to validate Action server response")


def test_every_rasa_event_is_judged_as_jsonschema_judges_it():
    """The per-type check agrees with the full `oneOf` validation on every kind of event Rasa
    serialises (a valid one, and one with a field of the wrong type)."""
    import jsonschema
    from rasa.shared.core import events as rasa_events
    from rasa.shared.core.events import Event

    schema = rasa_action.RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    quick = actions_ext._event_validators(schema, validator_class)
    assert quick is not None
    samples = [
        rasa_events.UserUttered("hi", {"name": "greet", "confidence": 0.9}, [], {"text": "hi"}),
        rasa_events.BotUttered("hello", {"buttons": []}, {"utter_action": "utter_greet"}),
        rasa_events.SlotSet("step", "budget"),
        rasa_events.ActiveLoop("onboarding_form"),
        rasa_events.ActiveLoop(None),
        rasa_events.ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0),
        rasa_events.SessionStarted(),
        rasa_events.Restarted(),
        rasa_events.AllSlotsReset(),
        rasa_events.FollowupAction("utter_greet"),
        rasa_events.LoopInterrupted(True),
        rasa_events.ActionReverted(),
        rasa_events.UserUtteranceReverted(),
        rasa_events.ConversationPaused(),
        rasa_events.ConversationResumed(),
        rasa_events.StoryExported(),
        rasa_events.AgentUttered("x"),
        rasa_events.EntitiesAdded([]),
        rasa_events.ActionExecutionRejected("action_x"),
    ]
    dicts = [event.as_dict() for event in samples]
    broken = [{**d, **{key: 12345 for key in d if key not in ("event", "timestamp")}} for d in dicts]
    for response in [{"events": dicts}] + [{"events": [d]} for d in dicts + broken]:
        assert quick(response) == validator_class(schema).is_valid(response), response
    assert isinstance(samples[0], Event)


async def test_action_calls_share_one_session_and_its_connections():
    """One session (and its keep-alive connections) for every call to the action server; `async with`
    on it, as EndpointConfig.request does, leaves it open; a closed one is replaced."""
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")
    actions_ext.keep_action_connections(endpoint)
    first = endpoint.session()
    async with first as session:
        pass
    assert not session.closed
    actions_ext.keep_action_connections(endpoint)
    assert endpoint.session() is first
    assert session.connector._keepalive_timeout == actions_ext.ACTION_KEEPALIVE_SECONDS < 5  # under Sanic's 5 s
    await session.close()
    actions_ext.keep_action_connections(endpoint)
    assert endpoint.session().session is not session and not endpoint.session().session.closed
    await endpoint.session().session.close()
    # Other endpoints (a model server, an NLG server) keep Rasa's own session per request.
    assert not hasattr(EndpointConfig("http://127.0.0.1:2"), "_kept_session")


def test_rasa_s_rule_cache_is_still_smaller_than_this_bot_s_rules():
    """Rasa 3.6 parses rule keys behind a 1000-entry cache (RasaHQ/rasa#10703); this bot's trained
    rules have more keys than that, so cache_every_rule_state is still needed. If Rasa's cache
    grows, this fails and the change can go."""
    import json

    from rasa.core.policies.rule_policy import RulePolicy

    from bot.rasa_ext import rule_policy

    current = RulePolicy.__dict__["_rule_key_to_state"].__func__
    rasa_own = getattr(current, "_rasa_own", current)  # Rasa's function, as Rasa wraps it
    assert getattr(rasa_own, "cache_parameters", lambda: {})() == {"maxsize": 1000, "typed": False}
    rule_policy.cache_every_rule_state()
    rule_policy.cache_every_rule_state()  # idempotent: one cache, not a cache of a cache
    installed = RulePolicy.__dict__["_rule_key_to_state"].__func__
    assert installed.cache_parameters()["maxsize"] == rule_policy.RULE_STATE_CACHE_SIZE
    assert installed.__wrapped__ is rasa_own.__wrapped__
    key = json.dumps([{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}])
    assert RulePolicy._rule_key_to_state(key) == json.loads(key)
    assert RulePolicy._rule_key_to_state(key) is RulePolicy._rule_key_to_state(key)  # kept parsed


def test_the_bench_measures_every_speed_change():
    """bench/ does not import the product, so it names the speed changes itself: the same ones."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[1] / "bench" / "speed_changes.py").read_text())
    (listed,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SPEED_CHANGES"
    ]
    assert listed == rasa_ext.SPEED_CHANGES


def test_the_wrappers_refuse_a_rasa_they_were_not_written_for():
    import pytest

    rasa_ext.check_rasa_version()  # the installed one
    rasa_ext.check_rasa_version("3.6.21")
    with pytest.raises(SystemExit, match="Rasa 3.7.0"):
        rasa_ext.check_rasa_version("3.7.0")


def test_without_the_speed_changes_only_the_fixes_are_installed():
    """RASA_EXT_SPEED=off (for measuring them): the calm failure reply is installed, Rasa's own
    validation stays. In a fresh interpreter, as the module patches Rasa's classes."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "from bot import rasa_ext; rasa_ext.install(); import json;"
        "from rasa.core.actions import action;"
        "print(json.dumps([getattr(action.RemoteAction.run, '_calm_on_failure', False),"
        "getattr(action.RemoteAction._validate_action_result, '_cached_validator', False)]))"
    )
    seen = {}
    for value in ("off", "on"):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, "RASA_EXT_SPEED": value},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        seen[value] = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"off": [True, False], "on": [True, True]}


async def test_slack_posts_without_the_legacy_as_user_flag():
    """Rasa's SlackBot still passes as_user=True to chat_postMessage; the mixin drops it."""
    from rasa.core.channels.slack import SlackBot

    from bot.rasa_ext.slack import PostWithoutAsUser

    sent = []

    class Client:
        async def chat_postMessage(self, **kwargs):
            sent.append(kwargs)

    class Plain(SlackBot):
        pass

    class Fixed(PostWithoutAsUser, SlackBot):
        pass

    for cls in (Plain, Fixed):
        bot = cls("xoxb-test")
        bot.client = Client()
        await bot.send_text_message("D1", "hello")
    assert sent[0].get("as_user") is True  # Rasa's own: if this changes, the mixin may go
    assert "as_user" not in sent[1] and sent[1]["text"] == "hello" and sent[1]["channel"] == "D1"


def test_slack_answers_direct_messages_only():
    from rasa.core.channels.slack import SlackInput

    from bot.rasa_ext.slack import DirectMessagesOnly

    class Fixed(DirectMessagesOnly, SlackInput):
        pass

    mention = {"event": {"type": "app_mention", "channel_type": "channel", "channel": "C1"}}
    direct = {"event": {"type": "message", "channel_type": "im", "channel": "D1"}}
    plain, fixed = SlackInput("xoxb-test", slack_signing_secret="s"), Fixed("xoxb-test", slack_signing_secret="s")
    assert plain._is_supported_channel(mention, {"out_channel": "C1"})  # Rasa answers mentions
    assert not fixed._is_supported_channel(mention, {"out_channel": "C1"})
    assert fixed._is_supported_channel(direct, {"out_channel": "D1"})


async def test_the_socket_joins_its_session_room_with_this_python_socketio():
    """python-socketio's enter_room is a coroutine here (why Rasa's unawaited call fails:
    RasaHQ/rasa#13027); join_room awaits it, and the socket is then in the room."""
    import inspect

    import socketio

    from bot.rasa_ext.socketio import join_room

    server = socketio.AsyncServer(async_mode="asgi")
    assert inspect.iscoroutinefunction(server.enter_room)
    sid = await server.manager.connect("eio-1", "/")
    await join_room(server, sid, "room-1", "/")
    assert sid in server.manager.rooms["/"]["room-1"]
