"""Hostile and malformed webhook bodies: each is answered 4xx or ignored, never 500 or a traceback.

Whoever learns the webhook secret can post anything. Every body below must be
refused (400, or 413 when it is too large to read) or acknowledged and ignored
(200), store nothing, send nothing and leave no ERROR record or traceback in
the log. The corpus runs on SQLite only: it is about parsing, not storage.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Message
from tests.telegram.fake_api import message

REFUSED, TOO_LARGE, IGNORED = 400, 413, 200
DEEP = 100_000


def update(**fields: Any) -> bytes:
    return json.dumps({"update_id": 11, **fields}).encode()


def a_message(**changes: Any) -> dict[str, Any]:
    """A valid private ``/echo`` message with ``changes`` applied (``None`` deletes a field)."""
    body = message(42, "/echo hi")["message"]
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


USER = {"id": 42, "is_bot": False, "first_name": "Alice"}
CHAT = {"id": 42, "type": "private", "first_name": "Alice"}
MEMBER = {"status": "kicked", "user": {"id": 999, "is_bot": True, "first_name": "Seq"}}
CHANGE = {"chat": CHAT, "from": USER, "date": 1, "old_chat_member": MEMBER}

BODIES: dict[str, tuple[bytes, int]] = {
    # not JSON, or not an object
    "empty": (b"", REFUSED),
    "broken JSON": (b"{not json", REFUSED),
    "not UTF-8": (b"\xff\xfe\xfd", REFUSED),
    "invalid UTF-8 inside a string": (b'{"update_id": 1, "x": "\xc3\x28"}', REFUSED),
    "JSON array": (b"[]", REFUSED),
    "JSON null": (b"null", REFUSED),
    "JSON number": (b"42", REFUSED),
    "JSON string": (b'"update"', REFUSED),
    "NaN update_id": (b'{"update_id": NaN}', REFUSED),
    "4,301-digit update_id": (b'{"update_id": ' + b"9" * 4301 + b"}", REFUSED),
    "100k-deep array": (b"[" * DEEP + b"]" * DEEP, REFUSED),
    "100k-deep object": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, REFUSED),
    "100k-deep message": (
        b'{"update_id": 1, "message": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        REFUSED,
    ),
    "2 MB body": (update(padding="x" * 2_000_000), TOO_LARGE),
    # not an update
    "empty object": (b"{}", REFUSED),
    "update_id is a string": (b'{"update_id": "x"}', REFUSED),
    "update_id is a float": (b'{"update_id": 1.5}', REFUSED),
    "update_id is a boolean": (b'{"update_id": true}', REFUSED),
    "update_id is negative": (b'{"update_id": -1}', REFUSED),
    "update_id beyond 64 bits": (b'{"update_id": 36893488147419103232}', REFUSED),
    # messages seqbot cannot read
    "message is a string": (update(message="text"), REFUSED),
    "message is empty": (update(message={}), REFUSED),
    "message without chat": (update(message=a_message(chat=None)), REFUSED),
    "channel post without chat": (update(channel_post=a_message(chat=None)), REFUSED),
    "chat is empty": (update(message=a_message(chat={})), REFUSED),
    "chat id is a string": (update(message=a_message(chat={**CHAT, "id": "42"})), REFUSED),
    "chat type is a number": (update(message=a_message(chat={**CHAT, "type": 1})), REFUSED),
    "chat id beyond 64 bits": (update(message=a_message(chat={**CHAT, "id": 2**64})), REFUSED),
    "from is empty": (update(message=a_message(**{"from": {}})), REFUSED),
    "from id is a string": (update(message=a_message(**{"from": {**USER, "id": "42"}})), REFUSED),
    "last name is a number": (
        update(message=a_message(**{"from": {**USER, "last_name": 7}})),
        REFUSED,
    ),
    "text is a number": (update(message=a_message(text=5)), REFUSED),
    "text is a list": (update(message=a_message(text=["/echo", "hi"])), REFUSED),
    "caption is a number": (update(message=a_message(text=None, caption=5)), REFUSED),
    "date is a string": (update(message=a_message(date="today")), REFUSED),
    "date beyond year 9999": (update(message=a_message(date=2**62)), REFUSED),
    "message_id is a list": (update(message=a_message(message_id=[])), REFUSED),
    "entities is a string": (update(message=a_message(entities="x")), REFUSED),
    "entity without offset": (update(message=a_message(entities=[{"type": "mention"}])), REFUSED),
    "quoted message without chat": (
        update(message=a_message(reply_to_message=a_message(chat=None))),
        REFUSED,
    ),
    "thread id is a string": (
        update(message=a_message(message_thread_id="7", is_topic_message=True)),
        REFUSED,
    ),
    # button presses and membership changes seqbot cannot read
    "press without sender": (update(callback_query={"id": "1", "data": "x"}), REFUSED),
    "press data is a number": (
        update(callback_query={"id": "1", "from": USER, "data": 5}),
        REFUSED,
    ),
    "press on a message without chat": (
        update(callback_query={"id": "1", "from": USER, "message": a_message(chat=None)}),
        REFUSED,
    ),
    "membership change is empty": (update(my_chat_member={}), REFUSED),
    "new member without status": (
        update(my_chat_member={**CHANGE, "new_chat_member": without(MEMBER, "status")}),
        REFUSED,
    ),
    # well-formed, but nothing seqbot asked for: acknowledged and dropped
    "update with no content": (update(), IGNORED),
    "edited message": (update(edited_message=a_message()), IGNORED),
    "unknown update kind": (update(future_kind={"anything": [1, 2, 3]}), IGNORED),
}


async def stored_messages(db) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Message))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("body, status", BODIES.values(), ids=BODIES.keys())
async def test_bad_body_is_refused_or_ignored_without_a_traceback(
    webhook, fake_api, db, caplog, body, status
):
    bot, post = webhook
    caplog.set_level(logging.INFO)
    assert await post(body) == status
    await bot.transport.wait_idle()
    assert await stored_messages(db) == 0 and not fake_api.sent()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # refusals are one short log line, not the body echoed back into the log
    assert all("\n" not in r.getMessage() and len(r.getMessage()) < 300 for r in caplog.records)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_webhook_still_answers_after_a_bad_body(webhook, fake_api):
    _, post = webhook
    assert await post(b"[" * DEEP + b"]" * DEEP) == REFUSED
    assert await post(update(message=a_message(text="/echo still here"))) == 200
    await fake_api.wait_for(chat_id="42", text="still here")
