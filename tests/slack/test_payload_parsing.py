"""Payload validation, without a server: any JSON anywhere is a model or a clean refusal.

Complements the corpus in test_hostile_bodies.py with generated values: the
HTTP parser either returns a request or raises :class:`MalformedRequest`, and
what Bolt hands the listeners in Socket Mode is validated or ignored; nothing
else is ever raised.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.transports.slack.payloads import (
    FORM_BODY,
    JSON_BODY,
    BlockActions,
    BotIdentity,
    EventCallback,
    MalformedRequest,
    MessageEvent,
    SlashCommand,
    action_message,
    command_message,
    event_message,
    parse_request,
    validated,
)
from tests.slack.conftest import action_payload, command_form, event_body
from tests.slack.test_hostile_bodies import ACTION_PATHS, DM, EVENT_PATHS, mutated

ME = BotIdentity("UBOT", "BBOT")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
COMMAND_FIELDS = ["command", "text", "user_id", "channel_id", "channel_name", "trigger_id",
                  "response_url", "user_name"]  # fmt: skip


def parsed_or_refused(raw: bytes, content_type: str) -> object:
    try:
        return parse_request(raw, content_type)
    except MalformedRequest:
        return None


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(EVENT_PATHS), value=JSON_VALUES)
def test_any_value_in_an_event_is_parsed_or_refused(path: str, value: Any) -> None:
    body = mutated(event_body(DM, "Ev1"), path, value)

    request = parsed_or_refused(json.dumps(body).encode(), JSON_BODY)
    envelope = validated(EventCallback, body)  # what Socket Mode hands the listener

    assert request is None or isinstance(request, EventCallback)
    if envelope is not None and isinstance(envelope.event, MessageEvent):
        event_message(envelope.event, ME, "Alice")
    event_message(body.get("event") if isinstance(body.get("event"), dict) else {}, ME, "")


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(ACTION_PATHS), value=JSON_VALUES)
def test_any_value_in_a_button_press_is_parsed_or_refused(path: str, value: Any) -> None:
    body = mutated(action_payload("echo:chose:red", "U1", "C1", "https://x.example/r"), path, value)

    request = parsed_or_refused(urlencode({"payload": json.dumps(body)}).encode(), FORM_BODY)
    press = validated(BlockActions, body)

    assert request is None or isinstance(request, BlockActions)
    if press is not None:
        action_message(press)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(COMMAND_FIELDS), value=st.text() | st.binary())
def test_any_value_in_a_slash_command_is_parsed_or_refused(field: str, value: str | bytes) -> None:
    form: dict[str, Any] = command_form("/echo", "hi", "U1", "alice", "C1", "https://x.example/r")
    form[field] = value

    request = parsed_or_refused(urlencode(form).encode(), FORM_BODY)
    command = validated(SlashCommand, form)

    assert request is None or isinstance(request, SlashCommand)
    if command is not None:
        assert command_message(command, ME).message_id == f"command:{command.trigger_id}"


@given(raw=st.binary(max_size=200), content_type=st.sampled_from([JSON_BODY, FORM_BODY, "x/y"]))
def test_any_bytes_are_parsed_or_refused(raw: bytes, content_type: str) -> None:
    parsed_or_refused(raw, content_type)


def test_what_slack_sends_is_accepted() -> None:
    """The real shapes, including fields seqbot ignores and events it does not handle."""
    reaction = {"type": "reaction_added", "user": "U1", "reaction": "tada",
                "item": {"type": "message", "channel": "C1", "ts": "1.0"}}  # fmt: skip
    user_change = {"type": "user_change", "user": {"id": "U1", "profile": {}}}
    ssl_check = urlencode({"ssl_check": "1", "token": "legacy"})

    for event in (DM, reaction, user_change):
        body = json.dumps(event_body(event, "Ev1") | {"enterprise": None, "x": [1, {}]})
        assert isinstance(parse_request(body.encode(), JSON_BODY), EventCallback)
    assert parse_request(ssl_check.encode(), FORM_BODY).model_dump() == {
        "ssl_check": "1",
        "token": "legacy",
    }
    press = action_payload("echo:chose:red", "U1", "C1", "https://x.example/r")
    modal = press | {"container": {"type": "view", "view_id": "V1"}, "team": None}
    parsed = parse_request(urlencode({"payload": json.dumps(modal)}).encode(), FORM_BODY)
    assert isinstance(parsed, BlockActions) and parsed.container.channel_id is None
