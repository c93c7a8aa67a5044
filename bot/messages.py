"""The platform-neutral message types that every layer of seqbot speaks.

Transports turn platform payloads into an :class:`IncomingMessage` and render a
:class:`Reply`; tasks never see a platform object. An :class:`Address` is the
part of a message needed to post into the same place later (reminders), so it
is small, hashable and storable as three strings.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


class ChatKind(enum.StrEnum):
    """Who can read a chat; private chats get free-text routing to the default task."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message can be posted without an incoming message to answer."""

    platform: str
    chat_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message, as the platform describes it; the bytes come on demand.

    Tasks decide from the description (name, type, size) whether to fetch it
    at all, so a file that is too big or of the wrong type is refused without
    being downloaded. ``read`` is provided by the transport (Telegram: ``getFile``
    and a download) and returns the whole file.
    """

    name: str
    mime_type: str | None
    #: Bytes, when the platform says; ``None`` when it does not (check after ``read``).
    size: int | None
    read: Callable[[], Awaitable[bytes]] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class QuotedMessage:
    """The message an incoming message replies to, with its text when the platform gives it."""

    message_id: str
    text: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    from_bot: bool = False
    #: Files the quoted message carries (``/kb add`` as a reply to a document).
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message (or button press) as the core sees it, whatever the platform."""

    platform: str
    chat_id: str
    chat_kind: ChatKind
    user_id: str
    user_name: str
    text: str
    message_id: str | None = None
    reply_to: QuotedMessage | None = None
    thread_id: str | None = None
    #: Set when the bot was addressed explicitly (mention, reply to the bot, DM);
    #: in groups only such messages are answered, the rest is stored as history.
    addressed: bool = True
    #: Set for button presses: the action id of the pressed :class:`Button`.
    action: str | None = None
    #: The command the platform already parsed (Slack slash commands), e.g. ``"seqbot"``.
    slash_command: str | None = None
    #: Files sent with the message (a Telegram document), in the order the platform lists them.
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: How replies travel back, set and read only by the transport that received the
    #: message (Slack: the slash command's ack and ``response_url``); opaque to the core.
    origin: object | None = field(default=None, compare=False, repr=False)
    #: False keeps the message and the answers to it out of the chat's history: a
    #: Telegram inline query is seen by nobody else, and no /forget could reach it.
    stored: bool = True

    @property
    def address(self) -> Address:
        return Address(self.platform, self.chat_id, self.thread_id)


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply; pressing it sends ``action`` back to the task that made it.

    The action id is ``"<task>:<payload>"`` so the router can find the owner
    without any per-platform state.
    """

    label: str
    action: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What a task says back.

    ``text`` uses seqbot's light markup (see :mod:`bot.formatting`): ``**bold**``,
    ```` `code` ````, fenced code blocks, ``- `` list items and ``[label](url)``
    links. Transports render it for their platform and split long text.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    #: Only the asking user should see it, where the platform can do that (Slack ephemeral).
    private: bool = False

    @classmethod
    def coerce(cls, value: str | Reply) -> Reply:
        return value if isinstance(value, Reply) else cls(text=value)
