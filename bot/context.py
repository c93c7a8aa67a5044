"""What a task handler gets: the message, the user, and the bot's shared services.

:class:`Context` is the only object a task touches, so a task never learns
which platform it runs on (the reply travels back through the transport that
delivered the message) and tests can drive a task through the real core.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.messages import Address, IncomingMessage, Reply
from bot.replier import Replier
from storage import history
from storage.dialogs import set_dialog
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.engine import EnginePool
    from bot.plugins import PluginRegistry, Task
    from bot.settings import Settings
    from bot.transports.base import Transport, TransportRegistry
    from storage.db import Database

log = logging.getLogger(__name__)

#: Where ``Context.ask(on_abandon=...)`` keeps its sentence inside the stored dialog data.
ON_ABANDON_KEY = "_seqbot_on_abandon"


class Reminders(Protocol):
    """What tasks may ask of the reminder dispatcher: look again for the next due reminder."""

    def wake(self) -> None: ...


@dataclass
class Services:
    """The bot's shared, long-lived parts, handed to every task's ``setup`` and context."""

    settings: Settings
    db: Database
    transports: TransportRegistry
    plugins: PluginRegistry
    engine: EnginePool | None = None
    reminders: Reminders | None = None

    @functools.cached_property
    def replier(self) -> Replier:
        """The one path replies and proactive posts take out of the bot."""
        return Replier(self.db, self.settings)


@dataclass(frozen=True)
class UserProfile:
    """The sender as stored: database id and the settings tasks personalize with."""

    id: int
    chat_id: int
    display_name: str
    timezone: str
    language: str
    #: False until the user chose a zone; the default zone is in ``timezone`` meanwhile.
    timezone_set: bool


@dataclass
class Context:
    """Everything a task handler may use while answering one message."""

    message: IncomingMessage
    user: UserProfile
    services: Services
    transport: Transport
    task: Task
    replies: list[Reply] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def engine(self) -> EnginePool | None:
        return self.services.engine

    @property
    def reminders(self) -> Reminders | None:
        return self.services.reminders

    @property
    def address(self) -> Address:
        return self.message.address

    async def reply(self, reply: Reply | str, *, record: bool = True) -> None:
        """Answer in the chat the message came from, and remember what was said.

        ``record=False`` keeps the reply out of the chat's history (``/forget``'s
        confirmation). A failed delivery is logged, not raised: the task goes on.
        """
        reply = Reply.coerce(reply)
        self.replies.append(reply)
        asker = (self.user.chat_id, self.user.id) if record and self.message.stored else None
        await self.services.replier.reply(self.message, self.transport, reply, record_for=asker)

    async def ask(
        self,
        prompt: Reply | str,
        *,
        step: str,
        data: dict[str, Any] | None = None,
        on_abandon: str | None = None,
    ) -> None:
        """Reply with ``prompt`` and route this user's next message here to ``@dialog_step(step)``.

        A command sent instead of an answer drops the question. When something is
        lost with it (a reminder waiting for its time zone), pass ``on_abandon``:
        the user is told that sentence rather than finding out later.
        """
        stored = dict(data or {})
        if on_abandon:
            stored[ON_ABANDON_KEY] = on_abandon
        async with self.db.session() as session:
            await set_dialog(
                session,
                chat_id=self.user.chat_id,
                user_id=self.user.id,
                task=self.task.name,
                step=step,
                data=stored,
                expires_at=utcnow() + timedelta(minutes=self.settings.dialog_ttl_minutes),
            )
        await self.reply(prompt)

    async def history(
        self, *, limit: int | None = None, since: datetime | None = None
    ) -> list[history.StoredMessage]:
        """Recent messages of this chat, oldest first (what summaries and sentiment read)."""
        async with self.db.session() as session:
            return await history.recent(
                session, chat_id=self.user.chat_id, limit=limit, since=since
            )

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Show "typing…" in the chat, renewed as the transport needs, until the block exits."""

        async def keep_typing() -> None:
            while True:
                try:
                    await self.transport.typing(self.address)
                except Exception as exc:  # an indicator must never break the answer
                    log.debug("typing indication failed: %s", exc)
                await asyncio.sleep(self.transport.typing_interval)

        indicator = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            indicator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await indicator
