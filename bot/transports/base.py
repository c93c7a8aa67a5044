"""The transport interface and the registry that finds a transport by platform.

A transport turns platform events into :class:`~bot.messages.IncomingMessage`
and hands them to :meth:`bot.core.Bot.handle`; it renders replies and posts to
stored addresses. Reminders and tasks reach every platform through
:class:`TransportRegistry`, never through a platform client.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from bot.messages import Address, IncomingMessage, Reply

if TYPE_CHECKING:
    from bot.plugins import PluginRegistry
    from bot.router import Route
    from storage.db import Database


class DeliveryError(Exception):
    """Posting failed; ``retry_after`` (seconds) is set when the platform asked us to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChatUnavailable(DeliveryError):
    """The platform will not let us post there (bot blocked, kicked, chat gone): do not retry."""


class Receiver(Protocol):
    """What a transport may ask of the core (:class:`bot.core.Bot` is the one implementation).

    Transports depend on this, not on the bot, so the layers point one way: the core
    knows transports, a transport knows only this interface.
    """

    @property
    def db(self) -> Database:
        """For a transport's own bookkeeping: which update or event ids were handled."""
        ...

    @property
    def plugins(self) -> PluginRegistry:
        """The loaded tasks, for platform menus of commands."""
        ...

    async def handle(self, message: IncomingMessage, transport: Transport) -> None:
        """Answer one message; never raises."""
        ...

    def track(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run incoming work as a task the bot waits for before it shuts down."""
        ...

    async def idle(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) until tracked work, and what it started, is done."""
        ...

    def route(self, message: IncomingMessage, transport: Transport) -> Route:
        """Where ``message`` would go, from its text alone (Slack acks model tasks at once)."""
        ...

    async def chat_unavailable(self, address: Address, reason: str) -> int:
        """A chat refuses the bot for good: record it and pause its reminders."""
        ...


class Transport(ABC):
    """One chat platform. Subclasses set ``platform`` and implement the abstract methods."""

    platform: str
    #: How often a "typing…" indication must be renewed while work goes on (seconds).
    typing_interval: float = 4.0
    #: The bot's own names on this platform besides ``settings.bot_name`` (Telegram username).
    bot_aliases: tuple[str, ...] = ()
    #: Raw spellings of a mention of the bot (Slack's ``<@U0BOT>``), stripped by the router.
    mention_tokens: tuple[str, ...] = ()

    @abstractmethod
    async def start(self, bot: Receiver) -> None:
        """Connect and begin delivering incoming messages to ``bot.handle``; return once running."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving, wait for the replies in progress, then disconnect.

        Shutdown relies on this order: messages already accepted from the
        platform are answered, and none arrive that would then be dropped.
        """

    @abstractmethod
    async def send(
        self, address: Address, reply: Reply, *, reply_to: str | None = None
    ) -> str | None:
        """Post ``reply`` at ``address`` (as a reply to message ``reply_to`` where possible).

        Returns the platform's id of the (first) posted message. Raises
        :class:`ChatUnavailable` when the chat refuses the bot for good and
        :class:`DeliveryError` for failures worth retrying.
        """

    async def reply(self, message: IncomingMessage, reply: Reply) -> str | None:
        """Answer ``message``: by default a post into its chat, quoting it where possible.

        A platform whose replies depend on how the message arrived (Slack's slash
        commands answer through their ack or ``response_url``) overrides this and
        reads what it needs from ``message.origin``, which it set on receipt.
        """
        return await self.send(message.address, reply, reply_to=message.message_id)

    async def typing(self, address: Address) -> None:  # noqa: B027 - optional for platforms
        """Show that the bot is working; platforms without such an indication do nothing."""


class TransportStartError(Exception):
    """A transport cannot start (bad token, missing secret); the message is one safe line."""


class PlatformUnreachable(TransportStartError):
    """The platform's API could not be reached at start; worth retrying, unlike a bad token."""


class UnknownPlatform(DeliveryError):
    """No transport for that platform is running in this process."""


class TransportRegistry:
    """The transports running in this process, by platform name."""

    def __init__(self) -> None:
        self._transports: dict[str, Transport] = {}

    def register(self, transport: Transport) -> None:
        if transport.platform in self._transports:
            raise ValueError(f"a {transport.platform} transport is already registered")
        self._transports[transport.platform] = transport

    def get(self, platform: str) -> Transport:
        try:
            return self._transports[platform]
        except KeyError:
            raise UnknownPlatform(f"no {platform} transport is running") from None

    def __contains__(self, platform: object) -> bool:
        return platform in self._transports

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._transports.values()))

    async def send(self, address: Address, reply: Reply) -> str | None:
        """Post to a stored address through the transport of its platform."""
        return await self.get(address.platform).send(address, reply)
