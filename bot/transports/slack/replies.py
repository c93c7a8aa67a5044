"""Where a reply goes: into a slash command's ack, to its ``response_url``, or via the Web API.

Every incoming message carries an :class:`Origin` (``IncomingMessage.origin``),
set by the transport on receipt and read back when the core answers that
message. Until a slash command is acknowledged its replies are held (the first
becomes the ack); afterwards they go to ``response_url`` in order, and through
``chat.postMessage`` / ``chat.postEphemeral`` once that URL stops working.
Proactive posts (reminders) have no origin and go straight to the Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Address, ChatKind, IncomingMessage, Reply
from bot.transports.base import ChatUnavailable
from bot.transports.slack import delivery
from bot.transports.slack.rendering import (
    MAX_BUTTON_VALUE,
    SlackMessage,
    slack_messages,
    with_share_button,
)

if TYPE_CHECKING:  # hooks.py imports Origin from here
    from bot.transports.slack.hooks import Spawn

log = logging.getLogger(__name__)

WORKING = "Working on it…"
OnUnavailable = Callable[[Address, str], Awaitable[object]]


@dataclass
class Origin:
    """How replies to one incoming message travel back."""

    user_id: str
    chat_kind: ChatKind
    response_url: str | None = None
    ephemeral: bool = False
    acknowledged: bool = True
    held: list[Reply] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    flushing: asyncio.Task[None] | None = None
    url_failed: bool = False
    #: Set for a message shortcut's private result: where "Post in thread" posts it,
    #: as ``(channel, thread ts)``.
    share: tuple[str, str] | None = None


class Outbox:
    """Posts replies for the transport, in order, each by the best route still open."""

    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        *,
        spawn: Spawn,
        on_unavailable: OnUnavailable,
    ) -> None:
        self.client = client
        self.session = session
        self._spawn = spawn
        self._on_unavailable = on_unavailable
        self.shared = SharedResults()

    async def post(self, address: Address, reply: Reply) -> str | None:
        """A post with no message to answer (reminders): straight to the Web API."""
        first: str | None = None
        for message in slack_messages(reply):
            posted = await self._post(address, message)
            first = first or posted
        return first

    async def reply(self, incoming: IncomingMessage, reply: Reply) -> str | None:
        """Answer ``incoming`` by the route its origin still offers."""
        origin = incoming.origin
        address = incoming.address
        if not isinstance(origin, Origin):
            return await self.post(address, reply)
        async with origin.lock:
            if not origin.acknowledged:
                origin.held.append(reply)
                return None
            if origin.flushing is not None:  # earlier replies first
                await asyncio.gather(origin.flushing, return_exceptions=True)
            ephemeral = reply.private or origin.ephemeral
            messages = slack_messages(reply)
            if origin.share is not None and messages and not reply.private:
                value = self.shared.offer(*origin.share, reply.text)
                messages[-1] = with_share_button(messages[-1], value)
            first: str | None = None
            for message in messages:
                posted = await self._respond(address, origin, message, ephemeral)
                first = first or posted
            return first

    async def acknowledge(
        self, origin: Origin, ack: AsyncAck, address: Address, *, finished: bool
    ) -> None:
        """Ack a slash command: with its first reply if ``finished``, else "working…".

        Returns at once (Slack waits for the ack); held replies that did not fit
        into it are posted by a task of their own, before any later reply.
        """
        async with origin.lock:
            origin.acknowledged = True
            outgoing = [
                (message, reply.private or origin.ephemeral)
                for reply in origin.held
                for message in slack_messages(reply)
            ]
            origin.held.clear()
            if not finished:
                await ack(text=WORKING, response_type="ephemeral")
            elif outgoing:
                message, ephemeral = outgoing.pop(0)
                await ack(**message.as_kwargs(), response_type=_response_type(ephemeral))
            else:
                await ack()
            if outgoing:
                origin.flushing = self._spawn(self._flush(address, origin, outgoing))

    async def _flush(
        self, address: Address, origin: Origin, outgoing: list[tuple[SlackMessage, bool]]
    ) -> None:
        try:
            for message, ephemeral in outgoing:
                await self._respond(address, origin, message, ephemeral)
        except ChatUnavailable as exc:
            await self._on_unavailable(address, str(exc))
        except Exception:
            log.exception("Slack: could not post a reply to %s", address)

    async def _respond(
        self, address: Address, origin: Origin, message: SlackMessage, ephemeral: bool
    ) -> str | None:
        """Through the response URL while it works, then through the Web API."""
        if origin.response_url and not origin.url_failed:
            if await delivery.post_to_response_url(
                self.session, origin.response_url, message, ephemeral=ephemeral
            ):
                return None
            origin.url_failed = True
        if ephemeral and origin.chat_kind != ChatKind.PRIVATE:
            await delivery.call(
                lambda: self.client.chat_postEphemeral(
                    channel=address.chat_id,
                    user=origin.user_id,
                    thread_ts=address.thread_id,
                    **message.as_kwargs(),
                )
            )
            return None
        return await self._post(address, message)

    async def _post(self, address: Address, message: SlackMessage) -> str | None:
        response = await delivery.call(
            lambda: self.client.chat_postMessage(
                channel=address.chat_id, thread_ts=address.thread_id, **message.as_kwargs()
            )
        )
        ts = response.get("ts")
        return str(ts) if ts else None


class SharedResults:
    """What "Post in thread" posts: in the button's value, or kept here when too long.

    Slack sends no message text with a press on an ephemeral message, so the text
    travels in the button (2,000 characters at most). Longer results are kept in
    this process's memory (the last 1,000), so their button works on this worker.
    """

    def __init__(self, keep: int = 1000) -> None:
        self._kept: OrderedDict[str, str] = OrderedDict()
        self._keep = keep

    def offer(self, channel: str, thread: str, text: str) -> str:
        """The button value for sharing ``text`` into ``thread`` of ``channel``."""
        value = json.dumps({"c": channel, "t": thread, "x": text}, ensure_ascii=False)
        if len(value) <= MAX_BUTTON_VALUE:
            return value
        key = uuid.uuid4().hex
        self._kept[key] = text
        while len(self._kept) > self._keep:
            self._kept.popitem(last=False)
        return json.dumps({"c": channel, "t": thread, "k": key})

    def take(self, value: str) -> tuple[str, str, str] | None:
        """(channel, thread, text) of a button value, or None if unreadable or forgotten."""
        try:
            data = json.loads(value)
            channel, thread = str(data["c"]), str(data["t"])
            text = data["x"] if "x" in data else self._kept.get(str(data["k"]))
        except (ValueError, KeyError, TypeError):
            return None
        return (channel, thread, str(text)) if isinstance(text, str) else None


def _response_type(ephemeral: bool) -> str:
    return "ephemeral" if ephemeral else "in_channel"
