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

from bot.context import ON_ABANDON_KEY, Context, Services, UserProfile, retention
from bot.errors import UsageError, UserError
from bot.messages import ChatKind, IncomingMessage, Reply
from bot.plugins import CommandSpec, Handler, HandlerResult, Task
from bot.router import closest, parse
from bot.text import clean_text
from bot.transports.base import ChatUnavailable, Transport, mark_unavailable
from storage import history
from storage.dialogs import take_dialog
from storage.people import chat_for, user_for

log = logging.getLogger(__name__)


class Bot:
    """Routes messages from any transport to task plugins, with shared services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.plugins = services.plugins
        self._in_flight: set[asyncio.Task[None]] = set()
        self._accepting = True

    async def handle(self, message: IncomingMessage, transport: Transport) -> None:
        """Answer one message. Never raises: failures become replies and log records.

        Runs as its own asyncio task so :meth:`drain` can wait for answers
        still being written when the bot shuts down.
        """
        if not self._accepting:
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._handle(message, transport)
        except Exception:
            error_id = secrets.token_hex(3)
            log.exception("error %s while handling a %s message", error_id, message.platform)
            await self._safe_send(transport, message, _apology(error_id))
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop accepting messages and wait for replies in progress to finish."""
        self._accepting = False
        pending = [t for t in self._in_flight if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _handle(self, message: IncomingMessage, transport: Transport) -> None:
        text = clean_text(message.text)
        limit = self.settings.max_message_chars
        too_long = len(text) > limit
        profile = await self._remember(message, "" if too_long else text)

        is_group = message.chat_kind != ChatKind.PRIVATE
        if is_group and not message.addressed and not text.startswith(("/", "@")):
            return  # group chatter: stored as history only
        if too_long:
            await self._safe_send(
                transport,
                message,
                Reply(
                    f"That message has {len(text):,} characters; the limit is {limit:,}. "
                    "Please send a shorter text."
                ),
            )
            return
        if message.action:
            await self._run_action(message, transport, profile)
            return

        parsed = parse(
            text,
            bot_name=self.settings.bot_name,
            known_commands=self.plugins.commands.keys(),
            slash_command=message.slash_command,
            mention_tokens=transport.mention_tokens,
            aliases=transport.bot_aliases,
        )
        if parsed.for_other_bot:
            return
        addressed = message.addressed or parsed.mentioned or message.chat_kind == ChatKind.PRIVATE
        if not addressed and parsed.command is None:
            return

        if parsed.command is not None:
            await self._abandon_dialog(message, transport, profile)
            spec = self.plugins.commands.get(parsed.command)
            if spec is None:
                await self._safe_send(transport, message, self._unknown_command(parsed.command))
                return
            await self._run(spec.task, spec.handler, message, transport, profile, parsed.args, spec)
            return

        async with self.services.db.session() as session:
            pending = await take_dialog(session, chat_id=profile.chat_id, user_id=profile.id)
        if pending is not None:
            handler = self.plugins.dialogs.get((pending.task, pending.step))
            if handler is not None:
                task = self.plugins.tasks[pending.task]
                data = {k: v for k, v in pending.data.items() if k != ON_ABANDON_KEY}
                await self._run(task, handler, message, transport, profile, parsed.args, None, data)
                return

        if not parsed.args:
            await self._safe_send(
                transport, message, Reply("Send me a message, or /help to see what I can do.")
            )
            return
        spec = self.plugins.commands.get(self.settings.default_task)
        if spec is None:
            await self._safe_send(
                transport, message, Reply("I only understand commands here. Try /help.")
            )
            return
        await self._run(spec.task, spec.handler, message, transport, profile, parsed.args, spec)

    async def _abandon_dialog(
        self, message: IncomingMessage, transport: Transport, profile: UserProfile
    ) -> None:
        """A command answers no pending question: drop it, saying what was lost with it."""
        async with self.services.db.session() as session:
            pending = await take_dialog(session, chat_id=profile.chat_id, user_id=profile.id)
        note = pending.data.get(ON_ABANDON_KEY) if pending is not None else None
        if note:
            await self._safe_send(transport, message, Reply(str(note)))

    async def _run_action(
        self, message: IncomingMessage, transport: Transport, profile: UserProfile
    ) -> None:
        task_name, _, rest = (message.action or "").partition(":")
        action_name, _, payload = rest.partition(":")
        handler = self.plugins.actions.get((task_name, action_name))
        if handler is None:
            await self._safe_send(transport, message, Reply("That button no longer works."))
            return
        task = self.plugins.tasks[task_name]
        await self._run(task, handler, message, transport, profile, payload, None)

    async def _run(
        self,
        task: Task,
        handler: Handler,
        message: IncomingMessage,
        transport: Transport,
        profile: UserProfile,
        args: str,
        spec: CommandSpec | None,
        dialog_data: dict[str, object] | None = None,
    ) -> None:
        ctx = Context(message, profile, self.services, transport, task)
        try:
            if dialog_data is None:
                result: HandlerResult = await handler(ctx, args)
            else:
                result = await handler(ctx, args, dialog_data)
        except UsageError as exc:
            usage = task.usage.strip()
            text = f"{exc}\nUsage:\n{usage}" if usage else str(exc)
            await ctx.reply(Reply(text))
            return
        except UserError as exc:
            await ctx.reply(Reply(str(exc)))
            return
        except Exception:
            error_id = secrets.token_hex(3)
            command = f"/{spec.name}" if spec else task.name
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
            if text and not message.action:
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

    def _unknown_command(self, name: str) -> Reply:
        guess = closest(name, self.plugins.commands.keys())
        hint = f" Did you mean /{guess}?" if guess else ""
        return Reply(f"I don't know /{name}.{hint} Send /help for the list of commands.")

    async def _safe_send(
        self, transport: Transport, message: IncomingMessage, reply: Reply
    ) -> None:
        try:
            await transport.send(message.address, reply, reply_to=message.message_id)
        except ChatUnavailable as exc:
            await mark_unavailable(self.services.db, message.address, str(exc))
        except Exception:
            log.exception("could not send a reply to %s", message.address)


def _apology(error_id: str) -> Reply:
    return Reply(
        f"Sorry, something went wrong on my side (error {error_id}). Please try again later."
    )
