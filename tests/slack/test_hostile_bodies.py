"""Signed but malformed requests: a clean 400, no traceback, nothing stored, nothing posted.

A request with a valid signature can still carry a body Slack never sends (a
leaked secret, a proxy that rewrites bodies, a Slack change). Each case below
mutates a request that *would* be answered (see the first test) into one that
must be refused with 400, or acknowledged with 200 and nothing done. One bot per backend serves a whole group of cases, so the
corpus stays quick; every failing case is reported by name.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import func, select

from storage.models import Message, ProcessedEvent, Reminder
from tests.fixtures.tasks import Echo
from tests.slack.conftest import action_payload, command_form, event_body

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
RESPONSE_URL = "http://127.0.0.1:9/respond/never"  # never called: every case is refused

DM = {"type": "message", "user": "U1", "text": "echo hi", "ts": "2.1", "channel": "D1",
      "channel_type": "im"}  # fmt: skip
MISSING = object()

#: Values of the wrong type or size for any field.
JUNK: dict[str, Any] = {
    "list": ["U1"],
    "number": 5,
    "float": 1.5,
    "null": None,
    "bool": True,
    "dict": {"junk": [1, {"x": None}]},
    "empty dict": {},
    "huge": "U" * 100_000,
    "nested": [[{"a": [[{"b": None}]]}]],
    "missing": MISSING,
}
#: Mutations that leave a request Slack could really send (so it is answered).
LEGIT = {
    ("container.is_ephemeral", "bool"),
    ("message", "dict"),
    ("message", "empty dict"),
    ("message", "missing"),
    ("message.thread_ts", "missing"),
    ("channel", "missing"),  # buttons in a modal: the container names the channel
    ("user.name", "missing"),
    ("user.username", "missing"),
    ("container.channel_id", "missing"),  # the channel is named in "channel" as well
    ("container.is_ephemeral", "missing"),
    ("response_url", "missing"),  # the answer goes through chat.postMessage instead
    ("event.thread_ts", "missing"),
    ("event.subtype", "missing"),
    ("event.bot_id", "missing"),
    ("event.channel_type", "missing"),
    ("event.ts", "missing"),
}
EVENT_PATHS = ["type", "event_id", "event", "event.type", "event.user", "event.channel",
               "event.text", "event.ts", "event.thread_ts", "event.subtype", "event.bot_id",
               "event.channel_type"]  # fmt: skip
ACTION_PATHS = ["type", "user", "user.id", "user.name", "user.username", "channel", "channel.id",
                "container", "container.channel_id", "container.is_ephemeral", "message",
                "message.thread_ts", "trigger_id", "response_url", "actions", "actions.0",
                "actions.0.value", "actions.0.action_id"]  # fmt: skip
#: Objects that arrive as a plain string: `"event": "hello"`.
OBJECT_PATHS = {"event", "user", "channel", "container", "message", "actions", "actions.0"}


def mutated(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the field at dotted ``path`` replaced (or removed)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is MISSING:
        del node[key]
    else:
        node[key] = value
    return data


def typed_cases(base: dict[str, Any], paths: list[str]) -> Iterator[tuple[str, Any]]:
    for path in paths:
        values = dict(JUNK)
        if path in OBJECT_PATHS:
            values["string"] = "hello"
        for name, value in values.items():
            if (path, name) not in LEGIT:
                yield f"{path}={name}", mutated(base, path, value)


def event_cases() -> Iterator[tuple[str, bytes, str]]:
    base = event_body(DM, "Ev1")
    for name, body in typed_cases(base, EVENT_PATHS):
        yield name, json.dumps(body).encode(), JSON
    valid = json.dumps(base)
    yield "truncated", valid[: len(valid) // 2].encode(), JSON
    yield "text with NUL", valid.replace("echo hi", "echo \\u0000").encode(), JSON
    yield "lone surrogate", valid.replace("echo hi", "echo \\ud800").encode(), JSON
    yield "not UTF-8", valid.encode().replace(b"echo hi", b"echo \xff\xfe"), JSON
    yield "NaN", valid.replace('"event_time": ', '"event_time": NaN, "x": ').encode(), JSON
    yield "5000-digit number", valid.replace('"event_time": ', '"n": ' + "9" * 5000 + ", "
                                             '"event_time": ').encode(), JSON  # fmt: skip
    yield "duplicate event key", valid.replace('"event": ', '"event": {}, "event": ').encode(), JSON
    yield (
        "deep nesting in the event",
        valid.replace(
            '"ts": "2.1"', '"ts": "2.1", "blocks": ' + "[" * 50_000 + "]" * 50_000
        ).encode(),
        JSON,
    )
    yield "event sent as a form", valid.encode(), FORM
    yield "event sent as text/plain", valid.encode(), "text/plain"


def envelope_cases() -> Iterator[tuple[str, bytes, str]]:
    for raw in ("[]", "null", '"hello"', "5", "{}", "", "[" * 100_000, '{"a":' * 50_000, "{"):
        yield f"JSON {raw[:12]!r}", raw.encode(), JSON
    yield "unknown type", b'{"type": "hello"}', JSON
    yield "url_verification without challenge", b'{"type": "url_verification"}', JSON
    for name, value in JUNK.items():
        if value is not MISSING:
            body = {"type": "url_verification", "token": "x", "challenge": value}
            yield f"challenge={name}", json.dumps(body).encode(), JSON
    duplicate = '{"type": "url_verification", "challenge": "c", "type": "event_callback"}'
    yield "duplicate type", duplicate.encode(), JSON
    yield "unsigned-style garbage, signed", b"\xff\xfe", JSON
    yield "not UTF-8 form", b"\xff\xfe", FORM


def command_cases() -> Iterator[tuple[str, bytes, str]]:
    base = command_form("/echo", "hi", "U1", "alice", "C1", RESPONSE_URL)
    odd = {
        "command": ["echo", "/", "/two words"],
        "user_id": ["<@U1>", "U 1"],
        "channel_id": ["#general"],
        "trigger_id": ["a b"],
        "response_url": ["javascript:alert(1)", "ftp://x.example/"],
        "text": [],
    }
    for field, strange in odd.items():
        values: dict[str, Any] = {"missing": MISSING, "huge": "A" * 100_000,
                                  "NUL": "a\x00b", **{repr(v): v for v in strange}}  # fmt: skip
        if field != "text":
            values["empty"] = ""
        for name, value in values.items():
            form = mutated(base, field, value)
            yield f"{field}={name}", urlencode(form).encode(), FORM
        yield f"{field} twice", (urlencode(base) + f"&{field}=x").encode(), FORM
        yield f"{field} not UTF-8", (urlencode(base) + f"&{field}=%FF%FE").encode(), FORM
    yield "command sent as JSON", urlencode(base).encode(), JSON
    yield "field without value", (urlencode(base) + "&junk").encode(), FORM


def interaction_cases() -> Iterator[tuple[str, bytes, str]]:
    base = action_payload("echo:chose:red", "U1", "C1", RESPONSE_URL)
    for name, body in typed_cases(base, ACTION_PATHS):
        yield name, urlencode({"payload": json.dumps(body)}).encode(), FORM
    yield "no actions", urlencode({"payload": json.dumps(base | {"actions": []})}).encode(), FORM
    for raw in ("[]", "null", '"hello"', "5", "{broken", "{}", '{"type": "block_actions"}',
                "[" * 100_000):  # fmt: skip
        yield f"payload={raw[:12]}", ("payload=" + quote(raw)).encode(), FORM
    yield "payload not UTF-8", b"payload=%FF%FE", FORM
    payload = "payload=" + quote(json.dumps(base))
    yield "payload twice", f"{payload}&{payload}".encode(), FORM
    yield "payload and a command", f"{payload}&command=%2Fecho".encode(), FORM


GROUPS = {
    "events": event_cases,
    "envelopes": envelope_cases,
    "commands": command_cases,
    "interactions": interaction_cases,
}


async def counts(slack) -> tuple[int, int, int]:
    async with slack.bot.services.db.session() as session:
        return (
            await session.scalar(select(func.count()).select_from(Message)) or 0,
            await session.scalar(select(func.count()).select_from(Reminder)) or 0,
            await session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0,
        )


async def test_the_unmutated_requests_are_answered(make_slack, fake_slack) -> None:
    """Guards the corpus: without its mutation each request really does something."""
    slack = await make_slack(tasks=[Echo()])
    press = action_payload("echo:chose:red", "U1", "C1", fake_slack.response_url("press"))

    event = await slack.post_signed(json.dumps(event_body(DM, "Ev1")), JSON)
    command, _ = await slack.command("/echo", "hi")
    pressed = await slack.post_signed(urlencode({"payload": json.dumps(press)}), FORM)
    await slack.transport.wait_idle()

    assert (event.status, command.status, pressed.status) == (200, 200, 200)
    assert command.json()["blocks"][0]["text"]["text"] == "hi"
    assert len(fake_slack.called("chat.postMessage")) == 1  # the DM's answer
    assert [url for url, _ in fake_slack.responses] == [fake_slack.response_url("press")]


@pytest.mark.parametrize("group", list(GROUPS))
async def test_malformed_signed_requests_are_refused_cleanly(
    make_slack, fake_slack, caplog, group
) -> None:
    slack = await make_slack(tasks=[Echo()])
    failures: list[str] = []
    caplog.set_level(logging.INFO)

    for name, body, content_type in GROUPS[group]():
        caplog.clear()
        posted = await slack.post_signed(body, content_type)
        await slack.transport.wait_idle()
        calls = [c.method for c in fake_slack.calls if c.method != "auth.test"]
        noisy = [r.getMessage()[:80] for r in caplog.records
                 if r.levelno >= logging.ERROR or r.exc_info]  # fmt: skip
        if posted.status not in (200, 400) or calls or fake_slack.responses or noisy:
            failures.append(f"{name}: {posted.status} {posted.body[:60]!r} {calls} {noisy}")
        if await counts(slack) != (0, 0, 0):
            failures.append(f"{name}: stored {await counts(slack)}")
            break

    assert failures == []


async def test_a_body_over_the_size_limit_is_refused(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    body = urlencode({"payload": "x" * 2_000_000})

    posted = await slack.post_signed(body, FORM)

    assert posted.status == 413
    assert await counts(slack) == (0, 0, 0)
