"""Changes to how Rasa 3.6 calls the action server (RemoteAction), each in its own function.

- `time_out_actions` (fix): Rasa waits up to 5 minutes for a custom action; here
  ACTION_TIMEOUT_SECONDS (default 10).
- `answer_failed_actions` (fix): when a custom action fails (server down, slow, an error), Rasa
  logs it and sends the user nothing: silence after someone found the courage to type. Here they get
  "something went wrong on my side, please try again in a moment" (messages.yml
  `system.action_failed`), once per message, and the action's events are dropped whole. When the
  failed action is the active form's validation, the form's slots filled from that message are
  emptied, so the form asks again and the answer sent again is taken (not lost in a form that
  finished without it). Replies
  sent before the failure stay: the escalation reply with its hotline is a domain response sent by
  Rasa itself, so it works with the action server down.
- `validate_responses_once` (speed): Rasa checks every action response with
  `jsonschema.validate`, which checks the response *schema* against the meta-schema on every call,
  and tries each event against all 23 event schemas (`oneOf`). Here the schema is checked once and
  each event against its own type's schema: same verdict. Without it, the median reply
  took 4.9x as long under 10 users (rasa_ext/__init__.py).
- `keep_action_connections` (speed): Rasa opens a new HTTP session and TCP connection for every
  action call; here one session per event loop whose idle connections are reused while younger
  than 2 s (the action server closes them after 5 s). Without it, the median reply took 21 %
  longer under 10 users (rasa_ext/__init__.py).
"""

from __future__ import annotations

import logging
import os
from typing import Any, List

logger = logging.getLogger(__name__)

FAILURE_MESSAGE = "system.action_failed"  # bot/content/messages.yml
DEFAULT_ACTION_TIMEOUT_SECONDS = 10.0


def action_timeout() -> float:
    raw = os.environ.get("ACTION_TIMEOUT_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_ACTION_TIMEOUT_SECONDS
    except ValueError:
        raise SystemExit(f"ACTION_TIMEOUT_SECONDS must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"ACTION_TIMEOUT_SECONDS must be above 0, got {value}")
    return value


def _told_this_turn(tracker: Any) -> bool:
    """Whether the failure reply was already sent since the user's latest message."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get("failure") == FAILURE_MESSAGE:
            return True
    return False


def _unvalidated_form_slots(action_name: str, tracker: Any, domain: Any) -> List[Any]:
    """When a form's validation action fails, the form's slots filled from this message were never
    checked: they are emptied, so the form asks for them again and stays active. Otherwise Rasa's
    form would take the unchecked value, finish, and run its submit action (which fails too): the
    user, told to try again, would then find the step no longer waiting for the answer."""
    from rasa.shared.core.events import SlotSet, UserUttered

    form = tracker.active_loop_name
    if not form or action_name != f"validate_{form}":
        return []
    required = set(domain.required_slots_for_form(form))
    filled = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet) and event.key in required and event.key not in filled:
            filled.append(event.key)
    return [SlotSet(name, None) for name in filled]


def _event_validators(schema: Any, validator_class: Any) -> Any:
    """A check of the action response that tests each event against its own event type's schema.

    Rasa's schema lists the events as `oneOf` 23 sub-schemas, each fixing `event` to one name with
    `const`; jsonschema tries every one of them on every event (~2 ms a response of 8 events).
    Since the names are distinct and `event` is required, an event matches the `oneOf` exactly when
    it matches the sub-schema of its own name, so that alone is checked. Returns None when the
    schema does not have that shape (then the full validator is used), else a function that says
    whether a response is valid (a False is then explained by the full validator).
    """
    events = schema.get("properties", {}).get("events", {})
    items = events.get("items", {})
    alternatives = items.get("oneOf")
    if (
        events.get("type") != "array"
        or set(events) != {"type", "items"}
        or not alternatives
        or "event" not in items.get("required", [])
    ):
        return None
    by_name = {}
    for alternative in alternatives:
        name = alternative.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str) or name in by_name:
            return None
        by_name[name] = validator_class(alternative)
    common = validator_class({key: value for key, value in items.items() if key != "oneOf"})
    rest = validator_class({**schema, "properties": {**schema["properties"], "events": {"type": "array"}}})

    def is_valid(result: Any) -> bool:
        if not rest.is_valid(result):
            return False
        for event in (result.get("events") or []) if isinstance(result, dict) else []:
            if not common.is_valid(event):
                return False
            own = by_name.get(event["event"])
            if own is None or not own.is_valid(event):
                return False
        return True

    return is_valid


def _install_cached_validation(remote: Any) -> None:
    """RemoteAction._validate_action_result as Rasa's, with the schema checked once, not per call,
    and each event checked against its own type's schema only (same verdict; _event_validators)."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    if getattr(remote._validate_action_result, "_cached_validator", False):
        return
    original = remote._validate_action_result
    schema = remote.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    quick_check = _event_validators(schema, validator_class)

    def _validate_action_result(self: Any, result: Any) -> bool:
        if quick_check is not None and quick_check(result):
            return True
        error = best_match(validator.iter_errors(result))  # what jsonschema.validate raises
        if error is None:
            return True
        if not isinstance(error, ValidationError):
            raise error
        # Rasa's own handling of an invalid response (its message is appended to the error).
        return original(self, result)

    _validate_action_result._cached_validator = True  # type: ignore[attr-defined]
    remote._validate_action_result = _validate_action_result


# Idle connections to the action server are reused only while younger than this. The action
# server (Sanic) closes a connection idle for 5 s (KEEP_ALIVE_TIMEOUT); aiohttp checks a pooled
# connection's idle time before reusing it, so a connection the server may be closing is never sent on.
ACTION_KEEPALIVE_SECONDS = 2.0


class _KeptSession:
    """`async with` on a shared aiohttp session that leaves it open (EndpointConfig.request closes
    the session it makes at the end of every request)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def keep_action_connections(endpoint: Any) -> None:
    """Make `endpoint` (the action server's EndpointConfig) reuse one aiohttp session, and so its
    TCP connections, in this event loop: Rasa opens a session and a connection for every custom
    action call (1.8 ms a call against 0.6 ms kept, measured on /health with the real server)."""
    import asyncio

    import aiohttp
    from rasa.core.actions import action as rasa_action

    loop = asyncio.get_running_loop()
    kept = getattr(endpoint, "_kept_session", None)
    if kept is not None and kept.session._loop is loop and not kept.session.closed:
        return
    auth = (
        aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
        if endpoint.basic_auth
        else None
    )
    session = aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=rasa_action.DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_KEEPALIVE_SECONDS),
    )
    endpoint._kept_session = _KeptSession(session)
    endpoint.session = lambda: endpoint._kept_session  # instance attribute: this endpoint only


def time_out_actions() -> None:
    """A custom action gets ACTION_TIMEOUT_SECONDS to answer instead of Rasa's 300 s."""
    from rasa.core.actions import action as rasa_action

    rasa_action.DEFAULT_REQUEST_TIMEOUT = action_timeout()


def validate_responses_once() -> None:
    from rasa.core.actions import action as rasa_action

    _install_cached_validation(rasa_action.RemoteAction)


def answer_failed_actions(keep_connections: bool = True) -> None:
    """RemoteAction.run as Rasa's, but a failure gets the calm reply instead of silence; with
    `keep_connections`, each call first makes its endpoint reuse one session (keep_action_connections)."""
    from rasa.core.actions import action as rasa_action
    from rasa.shared.core.events import BotUttered

    from bot.content import texts as content

    remote = rasa_action.RemoteAction
    if getattr(remote.run, "_calm_on_failure", False):
        return
    original_run = remote.run

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Any]:
        try:
            if keep_connections and self.action_endpoint is not None:
                keep_action_connections(self.action_endpoint)
            return await original_run(self, output_channel, nlg, tracker, domain)
        except rasa_action.ActionExecutionRejection:
            raise  # a form's normal "not this slot": Rasa handles it
        except Exception as error:  # noqa: BLE001 - any failure of the remote call
            # Type and action name only: the error's text can carry what the user typed.
            logger.error(
                "custom action '%s' failed (%s): the user was asked to try again", self.name(), type(error).__name__
            )
            undo = _unvalidated_form_slots(self.name(), tracker, domain)
            if _told_this_turn(tracker):
                return undo  # one apology per message is enough
            return [BotUttered(content.text(FAILURE_MESSAGE), metadata={"failure": FAILURE_MESSAGE})] + undo

    run._calm_on_failure = True  # type: ignore[attr-defined]
    remote.run = run
