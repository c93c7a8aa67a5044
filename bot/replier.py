"""The one way a reply leaves seqbot: send it, cope with a refusing chat, remember it.

Replies to a message, apologies and proactive posts all go through :class:`Replier`,
so the rules live in one place:

- a chat that refuses the bot for good (:class:`~bot.transports.base.ChatUnavailable`)
  is marked unavailable and its reminders are paused, whichever path found out;
- any other delivery failure is logged and costs only that reply, never the task
  that produced it, and never reaches the user as a traceback;
- what the bot said is stored in the chat's history (summaries read it) unless the
  caller says not to: ``/forget``'s confirmation must not store anything right after
  the user asked us to forget.

Transports only post; they never write to the database.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.messages import Address, IncomingMessage, Reply
from bot.transports.base import ChatUnavailable
from storage import history
from storage.people import mark_chat_unavailable

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.transports.base import Transport
    from storage.db import Database

log = logging.getLogger(__name__)


def retention(settings: Settings) -> history.Retention:
    """The history limits from settings, applied whenever a message is stored."""
    days = settings.history_max_age_days
    return history.Retention(settings.history_max_messages, timedelta(days=days) if days else None)


class Replier:
    """Sends replies for the core and tasks, and records them; one per bot."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def reply(
        self,
        message: IncomingMessage,
        transport: Transport,
        reply: Reply,
        *,
        record_for: tuple[int, int] | None = None,
    ) -> bool:
        """Answer ``message`` where it came from; True when the platform took the reply.

        ``record_for`` is the (chat id, user id) in our database the reply is stored
        under, the asker, so ``/forget`` also removes what the bot said back to them;
        None stores nothing.
        """
        try:
            await transport.reply(message, reply)
        except ChatUnavailable as exc:
            await self.chat_unavailable(message.address, str(exc))
            return False
        except Exception:
            log.exception("could not send a reply to %s", message.address)
            return False
        if record_for is not None:
            chat_id, user_id = record_for
            async with self.db.session() as session:
                await history.record(
                    session,
                    chat_id=chat_id,
                    user_id=user_id,
                    author_name=self.settings.bot_name,
                    from_bot=True,
                    text=reply.text,
                    thread_id=message.thread_id,
                    retention=retention(self.settings),
                )
        return True

    async def chat_unavailable(self, address: Address, reason: str) -> int:
        """Record that a chat refuses the bot and pause its reminders; returns how many paused.

        Every path that learns of it (a reply, a reminder, Telegram telling us we were
        removed) calls this, so a blocked bot stops retrying everywhere at once.
        """
        async with self.db.session() as session:
            paused = await mark_chat_unavailable(session, address.platform, address.chat_id, reason)
        if paused:
            log.info("chat %s refuses the bot (%s): paused %d reminders", address, reason, paused)
        return paused
