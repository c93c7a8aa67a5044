"""The reply path's one owner: a refusing chat is recorded, a failed send costs only itself."""

from __future__ import annotations

import asyncio
import gc
import logging

from sqlalchemy import select

from bot.app import open_bot
from bot.core import Bot
from bot.messages import Address, ChatKind, IncomingMessage, Reply
from bot.plugins import PluginRegistry
from bot.replier import Replier
from bot.transports.base import ChatUnavailable, Transport
from storage import history
from storage.models import Chat
from storage.people import chat_for, user_for


class Refusing(Transport):
    """Posts nothing: every send fails with ``error`` (None: records the reply instead)."""

    platform = "test"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[Address, Reply, str | None]] = []

    async def start(self, bot) -> None:  # type: ignore[no-untyped-def]
        pass

    async def stop(self) -> None:
        pass

    async def send(self, address: Address, reply: Reply, *, reply_to: str | None = None) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append((address, reply, reply_to))
        return "posted-1"


MESSAGE = IncomingMessage("test", "c1", ChatKind.PRIVATE, "u1", "Ann", "hi", message_id="m7")


async def stored_ids(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        user = await user_for(session, "test", "u1", "Ann")
        chat = await chat_for(session, "test", "c1", ChatKind.PRIVATE)
        await session.flush()
        return chat.id, user.id


async def bot_lines(db, chat_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return [m.text for m in await history.recent(session, chat_id=chat_id) if m.from_bot]


async def test_a_reply_quotes_the_message_and_is_recorded_for_the_asker(db, settings) -> None:
    chat_id, user_id = await stored_ids(db)
    transport = Refusing()
    replier = Replier(db, settings)
    assert await replier.reply(MESSAGE, transport, Reply("hello"), record_for=(chat_id, user_id))
    assert await replier.reply(MESSAGE, transport, Reply("secret"), record_for=None)
    assert [(a.chat_id, r.text, q) for a, r, q in transport.sent] == [
        ("c1", "hello", "m7"),
        ("c1", "secret", "m7"),
    ]
    assert await bot_lines(db, chat_id) == ["hello"]  # record_for=None keeps it out of history


async def test_a_refusing_chat_is_marked_unavailable_and_nothing_is_recorded(db, settings) -> None:
    chat_id, user_id = await stored_ids(db)
    replier = Replier(db, settings)
    refusal = ChatUnavailable("bot was blocked by the user")
    sent = await replier.reply(
        MESSAGE, Refusing(refusal), Reply("x"), record_for=(chat_id, user_id)
    )
    assert sent is False
    async with db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.id == chat_id))
        assert chat is not None
        assert (chat.active, chat.inactive_reason) == (False, "bot was blocked by the user")
    assert await bot_lines(db, chat_id) == []


async def test_any_other_failure_is_logged_and_does_not_raise(db, settings, caplog) -> None:
    chat_id, user_id = await stored_ids(db)
    replier = Replier(db, settings)
    caplog.set_level(logging.ERROR)
    boom = Refusing(RuntimeError("socket closed"))
    assert await replier.reply(MESSAGE, boom, Reply("x"), record_for=(chat_id, user_id)) is False
    [record] = [r for r in caplog.records if r.name == "bot.replier"]
    assert (
        record.getMessage()
        == "could not send a reply to Address(platform='test', chat_id='c1', thread_id=None)"
    )
    async with db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.id == chat_id))
        assert chat is not None and chat.active  # a transient failure is not a refusal


async def test_failing_tracked_work_is_logged_once_and_idle_waits_for_it(
    db, settings, caplog
) -> None:
    """Unread, asyncio would report the exception only when the task is collected, or never."""
    async with open_bot(settings, db=db, plugins=PluginRegistry(), with_engine=False) as bot:
        assert isinstance(bot, Bot)
        gate = asyncio.Event()

        async def broken() -> None:
            await gate.wait()
            raise RuntimeError("boom")

        caplog.set_level(logging.INFO)
        task = bot.track(broken())
        idle = asyncio.create_task(bot.idle())
        await asyncio.sleep(0)
        assert not idle.done()  # the tracked work is still waiting at the gate
        gate.set()
        await idle
        assert task.done()
        del task
        gc.collect()
    ours = [r for r in caplog.records if r.name == "bot.core" and r.exc_info]
    assert [(r.levelno, type(r.exc_info[1]).__name__) for r in ours] == [
        (logging.ERROR, "RuntimeError")
    ]
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
