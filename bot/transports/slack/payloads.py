"""Slack payloads (slash commands, events, button presses) as the core's incoming messages.

Pure functions of the payload, so every routing decision here (which events
are ours, what counts as addressed, which messages are the bot's own) is
tested without a server. Slack's escaped mrkdwn (``&amp;``, ``<@U123>``,
``<https://x|label>``) is turned back into the plain text tasks expect.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

from bot.messages import ChatKind, IncomingMessage

PLATFORM = "slack"

#: Message subtypes that are people talking; joins, edits, deletions and bots are not.
_HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}
_ENTITY = re.compile(r"<([^<>]+)>")


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"


def chat_kind(channel_id: str, channel_type: str | None = None) -> ChatKind:
    """Direct messages are private chats; channels and group DMs are groups."""
    if channel_type == "im" or (channel_type is None and channel_id.startswith("D")):
        return ChatKind.PRIVATE
    return ChatKind.GROUP


def plain_text(text: str, me: BotIdentity | None = None) -> str:
    """Slack's wire format as plain text; a mention of the bot anywhere is moved to the front.

    The router strips a leading mention token, so "hey <@UBOT> translate …" and
    "<@UBOT> hey translate …" both reach it as addressed to the bot.
    """
    mentioned = False
    if me is not None:
        own = re.compile(rf"<@{re.escape(me.user_id)}(?:\|[^>]*)?>[ \t]*")
        text, count = own.subn("", text)
        mentioned = count > 0

    def entity(match: re.Match[str]) -> str:
        inner = match[1]
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            keyword = target[1:].split("^")[0]
            return label or f"@{keyword}"
        if label and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    text = html.unescape(_ENTITY.sub(entity, text)).strip()
    if mentioned and me is not None:
        text = f"{me.mention} {text}".strip()
    return text


def is_from_bot(event: dict[str, Any], me: BotIdentity) -> bool:
    """Messages by any bot (including ourselves) are never answered, to prevent loops."""
    return bool(
        event.get("bot_id")
        or event.get("subtype") == "bot_message"
        or event.get("user") == me.user_id
        or (me.bot_id is not None and event.get("bot_id") == me.bot_id)
    )


def command_message(command: dict[str, Any], me: BotIdentity | None) -> IncomingMessage:
    """A slash command: always addressed; its name (without "/") goes to the router."""
    channel = str(command.get("channel_id", ""))
    channel_name = command.get("channel_name")
    kind = ChatKind.PRIVATE if channel_name == "directmessage" else chat_kind(channel)
    token = command.get("trigger_id") or uuid.uuid4().hex
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=channel,
        chat_kind=kind,
        user_id=str(command.get("user_id", "")),
        user_name=str(command.get("user_name") or command.get("user_id", "")),
        text=plain_text(str(command.get("text", "")), me),
        message_id=f"command:{token}",
        addressed=True,
        slash_command=str(command.get("command", "")).lstrip("/").lower(),
    )


def event_message(event: dict[str, Any], me: BotIdentity, user_name: str) -> IncomingMessage | None:
    """An ``app_mention`` or ``message`` event, or None when it is not for the core.

    A channel message that mentions the bot is skipped here because Slack also
    sends it as ``app_mention`` (which is handled); an ``app_mention`` in a DM
    is skipped because the DM's ``message`` event carries it.
    """
    if is_from_bot(event, me) or event.get("subtype") not in _HUMAN_SUBTYPES:
        return None
    channel = event.get("channel")
    user = event.get("user")
    if not channel or not user:
        return None
    kind = chat_kind(channel, event.get("channel_type"))
    raw = str(event.get("text") or "")
    if event.get("type") == "app_mention":
        if kind == ChatKind.PRIVATE:
            return None
        addressed = True
    elif event.get("type") == "message":
        if kind == ChatKind.PRIVATE:
            addressed = True
        elif me.mention in raw or f"<@{me.user_id}|" in raw:
            return None
        else:
            addressed = False
    else:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=channel,
        chat_kind=kind,
        user_id=user,
        user_name=user_name or user,
        text=plain_text(raw, me),
        message_id=str(event.get("ts") or uuid.uuid4().hex),
        thread_id=event.get("thread_ts"),
        addressed=addressed,
    )


def action_message(body: dict[str, Any], action: dict[str, Any]) -> IncomingMessage | None:
    """A button press (``block_actions``): the button's value is the core's action id."""
    value = action.get("value")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    user = body.get("user") or {}
    if not value or not channel or not user.get("id"):
        return None
    message = body.get("message") or {}
    token = body.get("trigger_id") or uuid.uuid4().hex
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(channel),
        chat_kind=chat_kind(str(channel)),
        user_id=str(user["id"]),
        user_name=str(user.get("username") or user.get("name") or user["id"]),
        text="",
        message_id=f"action:{token}",
        thread_id=message.get("thread_ts"),
        action=str(value),
    )
