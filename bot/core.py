"""The bot: validates each incoming message, stores it, routes it to a task, answers.

Transports call :meth:`Bot.handle` for every message they receive. Everything a
user can get wrong is answered here in one sentence; anything a task gets
wrong is logged with an error id that the apology quotes, so the user never
sees a traceback and the operator can find it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from bot.context import ON_ABANDON_KEY, Context, Services, UserProfile
from bot.errors import UsageError, UserError
from bot.messages import Address, IncomingMessage, Reply
from bot.plugins import PluginRegistry
from bot.replier import retention
from bot.router import Route, resolve
from bot.text import clean_text
from bot.transports.base import Transport
from storage import history
from storage.db import Database
from storage.dialogs import take_dialog
from storage.people import chat_for, user_for

log = logging.getLogger(__name__)


class Bot:
    """Routes messages from any transport to task plugins, with shared services.

    Transports see it only as a :class:`~bot.transports.base.Receiver`.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.replier = services.replier
        self._in_flight: set[asyncio.Task[None]] = set()
        self._accepting = True

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def plugins(self) -> PluginRegistry:
        return self.services.plugins

    async def handle(self, message: IncomingMessage, transport: Transport) -> None:
        """Answer one message. Never raises: failures become replies and log records.

        Counts as work in progress for :meth:`drain` even when a caller runs it in a
        task of its own rather than through :meth:`track`.
        """
        if not self._accepting:
            return
        task = asyncio.current_task()
        untracked = task is not None and task not in self._in_flight
        if untracked:
            self._in_flight.add(task)  # type: ignore[arg-type]
        try:
            await self._handle(message, transport)
        except Exception:
            error_id = secrets.token_hex(3)
            log.exception("error %s while handling a %s message", error_id, message.platform)
            await self.replier.reply(message, transport, _apology(error_id))
        finally:
            if untracked:
                self._in_flight.discard(task)  # type: ignore[arg-type]

    def track(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a transport's incoming work as a task that :meth:`idle` and :meth:`drain` wait for.

        The one registry of work in progress: shutdown waits for it before the
        transports it replies through are disconnected.
        """
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        """Log a failure where it happened; unread, asyncio would report it only at GC time."""
        self._in_flight.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("handling incoming work failed", exc_info=error)

    async def idle(self, timeout: float | None = None) -> None:
        """Wait until all work in progress, including work it started, has finished.

        Gives up after ``timeout`` seconds without cancelling anything.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while pending := [t for t in self._in_flight if t is not asyncio.current_task()]:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            await asyncio.wait(pending, timeout=left)

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop accepting messages and wait for replies in progress to finish."""
        self._accepting = False
        await self.idle(timeout)

    async def chat_unavailable(self, address: Address, reason: str) -> int:
        return await self.replier.chat_unavailable(address, reason)

    def route(self, message: IncomingMessage, transport: Transport) -> Route:
        """Where ``message`` goes (see :func:`bot.router.resolve`)."""
        return resolve(
            message,
            clean_text(message.text),
            self.plugins,
            bot_name=self.settings.bot_name,
            default_task=self.settings.default_task,
            mention_tokens=transport.mention_tokens,
            aliases=transport.bot_aliases,
        )

    async def _handle(self, message: IncomingMessage, transport: Transport) -> None:
        text = clean_text(message.text)
        limit = self.settings.max_message_chars
        too_long = len(text) > limit
        profile = await self._remember(message, "" if too_long else text)
        route = self.route(message, transport)
        if route.ignored:
            return  # group chatter (stored as history only), or a command for another bot
        if too_long:
            await self._say(message, transport, _too_long(len(text), limit))
            return
        if route.command:
            await self._abandon_dialog(message, transport, profile)
        elif route.free_text and await self._answer_dialog(message, transport, profile, route):
            return
        if route.reply is not None:
            await self._say(message, transport, route.reply)
        else:
            await self._run(route, message, transport, profile)

    async def _say(self, message: IncomingMessage, transport: Transport, reply: Reply) -> None:
        """A reply of the core's own (usage hints, refusals): sent, not kept in history."""
        await self.replier.reply(message, transport, reply)

    async def _abandon_dialog(
        self, message: IncomingMessage, transport: Transport, profile: UserProfile
    ) -> None:
        """A command answers no pending question: drop it, saying what was lost with it."""
        async with self.services.db.session() as session:
            pending = await take_dialog(session, chat_id=profile.chat_id, user_id=profile.id)
        note = pending.data.get(ON_ABANDON_KEY) if pending is not None else None
        if note:
            await self._say(message, transport, Reply(str(note)))

    async def _answer_dialog(
        self, message: IncomingMessage, transport: Transport, profile: UserProfile, route: Route
    ) -> bool:
        """Hand free text to the dialog step waiting for it, if any; True when one took it."""
        async with self.services.db.session() as session:
            pending = await take_dialog(session, chat_id=profile.chat_id, user_id=profile.id)
        handler = self.plugins.dialogs.get((pending.task, pending.step)) if pending else None
        if pending is None or handler is None:
            return False
        data = {k: v for k, v in pending.data.items() if k != ON_ABANDON_KEY}
        step = Route(self.plugins.tasks[pending.task], handler, route.args)
        await self._run(step, message, transport, profile, data)
        return True

    async def _run(
        self,
        route: Route,
        message: IncomingMessage,
        transport: Transport,
        profile: UserProfile,
        dialog_data: dict[str, object] | None = None,
    ) -> None:
        task, handler = route.task, route.handler
        assert task is not None and handler is not None
        ctx = Context(message, profile, self.services, transport, task)
        try:
            if dialog_data is None:
                result = await handler(ctx, route.args)
            else:
                result = await handler(ctx, route.args, dialog_data)
        except UsageError as exc:
            usage = task.usage.strip()
            await ctx.reply(f"{exc}\nUsage:\n{usage}" if usage else str(exc))
            return
        except UserError as exc:
            await ctx.reply(str(exc))
            return
        except Exception:
            error_id = secrets.token_hex(3)
            command = f"/{route.spec.name}" if route.spec else task.name
            log.exception("error %s in task %s (%s)", error_id, task.name, command)
            await ctx.reply(_apology(error_id))
            return
        if result is not None:
            await ctx.reply(result)

    async def _remember(self, message: IncomingMessage, text: str) -> UserProfile:
        """Store sender, chat and message; apply retention; return the sender's settings."""
        settings = self.settings
        async with self.services.db.session() as session:
            user = await user_for(session, message.platform, message.user_id, message.user_name)
            chat = await chat_for(session, message.platform, message.chat_id, message.chat_kind)
            await session.flush()
            if text and not message.action and message.stored:
                await history.record(
                    session,
                    chat_id=chat.id,
                    user_id=user.id,
                    author_name=message.user_name,
                    text=text,
                    external_id=message.message_id,
                    thread_id=message.thread_id,
                    created_at=message.received_at,
                    retention=retention(settings),
                )
            return UserProfile(
                id=user.id,
                chat_id=chat.id,
                display_name=user.display_name,
                timezone=user.timezone or settings.timezone,
                language=user.language or settings.language,
                timezone_set=user.timezone is not None,
            )


def _too_long(length: int, limit: int) -> Reply:
    return Reply(
        f"That message has {length:,} characters; the limit is {limit:,}. "
        "Please send a shorter text."
    )


def _apology(error_id: str) -> Reply:
    return Reply(
        f"Sorry, something went wrong on my side (error {error_id}). Please try again later."
    )
