"""Message shortcuts: Translate, Summarize thread and Remind me, on any message.

Slack sends a ``message_action`` when someone picks one of seqbot's shortcuts in
a message's "More actions" menu; it must be acknowledged within 3 seconds, so the
listener acks first and the work runs in a task of its own. Translate and
Summarize become an ``IncomingMessage`` for ``/translate`` or ``/summarize``
whose ``reply_to`` quotes the message (for Summarize: the whole thread, read
with ``conversations.replies``), handled by the core like a reply to that
message; the result is shown only to the user, through the shortcut's
``response_url``, with a "Post in thread" button. Remind opens the reminder
modal with the message's text, and the reminder links back to the message.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.messages import IncomingMessage, QuotedMessage, Reply
from bot.transports.base import DeliveryError
from bot.transports.slack import delivery
from bot.transports.slack.hooks import TransportHooks
from bot.transports.slack.modals import ReminderModal, Target
from bot.transports.slack.payloads import (
    PLATFORM,
    BlockActions,
    BotIdentity,
    MessageAction,
    chat_kind,
    plain_text,
    validated,
)
from bot.transports.slack.rendering import slack_messages
from bot.transports.slack.replies import WORKING, Origin, Outbox

log = logging.getLogger(__name__)

TRANSLATE = "seqbot_translate"
SUMMARIZE = "seqbot_summarize"
REMIND = "seqbot_remind"
CALLBACK_IDS = (TRANSLATE, SUMMARIZE, REMIND)
#: Messages of a thread read for Summarize (one page of ``conversations.replies``).
THREAD_LIMIT = 200

UserName = Callable[[str], Awaitable[str]]


class Shortcuts:
    """Answers seqbot's message shortcuts and the "Post in thread" button."""

    def __init__(
        self,
        hooks: TransportHooks,
        outbox: Outbox,
        modal: ReminderModal,
        me: BotIdentity,
        *,
        user_name: UserName,
    ) -> None:
        self.hooks = hooks
        self.outbox = outbox
        self.modal = modal
        self.me = me
        self._user_name = user_name

    async def on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Ack at once; the work (a modal, or the model) follows in a task."""
        await ack()
        shortcut = validated(MessageAction, body)
        if shortcut is None or shortcut.callback_id not in CALLBACK_IDS:
            return
        channel = shortcut.channel.id
        kind = chat_kind(channel)
        if not self.hooks.allowed(shortcut.user.id, channel, kind):
            return
        if shortcut.callback_id == REMIND:  # the trigger id is good for 3 s: no claim first
            self.hooks.spawn(self._remind(shortcut))
        else:
            self.hooks.spawn(self._answer(shortcut))

    async def _remind(self, shortcut: MessageAction) -> None:
        message = shortcut.message
        link = message.permalink or await self._permalink(shortcut.channel.id, message.ts)
        target = Target(
            channel=shortcut.channel.id, kind=str(chat_kind(shortcut.channel.id)),
            thread=message.thread_ts, response_url=shortcut.response_url, link=link,
        )  # fmt: skip
        text = plain_text(message.text or "", self.me)
        await self.modal.open(shortcut.trigger_id, shortcut.user.id, target, text=text)

    async def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            found = await delivery.call(
                lambda: self.hooks.client.chat_getPermalink(channel=channel, message_ts=ts)
            )
        except DeliveryError as exc:
            log.info("Slack: no permalink for %s/%s: %s", channel, ts, exc)
            return None
        link = found.get("permalink")
        return str(link) if link else None

    async def _answer(self, shortcut: MessageAction) -> None:
        """Translate or summarize through the core, privately, with "Post in thread"."""
        if not await self.hooks.claim(f"trigger:{shortcut.trigger_id}"):
            return
        message = shortcut.message
        channel = shortcut.channel.id
        thread = message.thread_ts or message.ts
        if shortcut.callback_id == SUMMARIZE:
            quoted_text = await self._thread_text(channel, thread, message.text or "")
            command = "summarize"
        else:
            quoted_text = plain_text(message.text or "", self.me)
            command = "translate"
        user = shortcut.user
        incoming = IncomingMessage(
            platform=PLATFORM, chat_id=channel, chat_kind=chat_kind(channel), user_id=user.id,
            user_name=await self._user_name(user.id), text="",
            message_id=f"shortcut:{shortcut.trigger_id}", thread_id=message.thread_ts,
            reply_to=QuotedMessage(
                message_id=message.ts, text=quoted_text, user_id=message.user,
                from_bot=message.bot_id is not None,
            ),
            slash_command=command,
        )  # fmt: skip
        origin = Origin(user_id=user.id, chat_kind=incoming.chat_kind,
                        response_url=shortcut.response_url, ephemeral=True,
                        share=(channel, thread))  # fmt: skip
        working = dataclasses.replace(incoming, origin=origin)
        await self.outbox.reply(working, Reply(WORKING, private=True))
        await self.hooks.run(incoming, origin)

    async def _thread_text(self, channel: str, thread: str, fallback: str) -> str:
        """The thread as "Name: text" lines (bots left out); the message alone if unreadable."""
        try:
            found = await delivery.call(
                lambda: self.hooks.client.conversations_replies(
                    channel=channel, ts=thread, limit=THREAD_LIMIT
                )
            )
        except DeliveryError as exc:
            log.info("Slack: could not read thread %s/%s: %s", channel, thread, exc)
            return plain_text(fallback, self.me)
        lines = []
        for item in found.get("messages") or []:
            if not isinstance(item, dict) or item.get("bot_id") or not item.get("user"):
                continue
            text = " ".join(plain_text(str(item.get("text") or ""), self.me).split())
            if text:
                lines.append(f"{await self._user_name(str(item['user']))}: {text}")
        return "\n".join(lines) or plain_text(fallback, self.me)

    async def on_share(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """ "Post in thread": the private result, posted in the message's thread for everyone."""
        await ack()
        press = validated(BlockActions, body)
        value = press.actions[0].value if press is not None else None
        shared = self.outbox.shared.take(value) if value else None
        if press is None or shared is None:
            return
        channel, thread, text = shared
        if not self.hooks.allowed(press.user.id, channel, chat_kind(channel)):
            return
        if not await self.hooks.claim(f"trigger:{press.trigger_id}"):
            return
        reply = Reply(f"{text}\n\n(shared by {await self._user_name(press.user.id)})")
        try:
            for message in slack_messages(reply):
                await delivery.call(
                    lambda m=message: self.hooks.client.chat_postMessage(  # type: ignore[misc]
                        channel=channel, thread_ts=thread, **m.as_kwargs()
                    )
                )
        except DeliveryError as exc:
            log.info("Slack: could not post a shared result in %s: %s", channel, exc)
