"""Telegram updates as the core's :class:`~bot.messages.IncomingMessage`.

Pure functions over python-telegram-bot objects, so the rules for when the bot
counts as addressed in a group (the part users notice) read in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from telegram import CallbackQuery, Chat, Message, MessageEntity

from bot.messages import Attachment, ChatKind, IncomingMessage, QuotedMessage

#: Fetches a file's bytes by its ``file_id`` (the transport's ``getFile`` and download).
Downloader = Callable[[str], Awaitable[bytes]]

PLATFORM = "telegram"


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is on Telegram, from ``getMe``: needed to see mentions and replies to it."""

    id: int
    username: str

    def is_me(self, user_id: int | None) -> bool:
        return user_id is not None and user_id == self.id


def chat_kind(chat: Chat) -> ChatKind:
    if chat.type == Chat.PRIVATE:
        return ChatKind.PRIVATE
    if chat.type == Chat.CHANNEL:
        return ChatKind.CHANNEL
    return ChatKind.GROUP


def thread_of(message: Message) -> str | None:
    """The forum topic a message belongs to; other ``message_thread_id`` values are reply
    threads, and posting into those with ``message_thread_id`` would fail."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def _quoted(message: Message, me: BotIdentity, download: Downloader | None) -> QuotedMessage | None:
    original = message.reply_to_message
    if original is None or original.forum_topic_created is not None:
        return None  # in forum topics every message "replies" to the topic's first message
    author = original.from_user
    return QuotedMessage(
        message_id=str(original.message_id),
        text=original.text or original.caption,
        user_id=str(author.id) if author else None,
        user_name=author.full_name if author else None,
        from_bot=bool(author and me.is_me(author.id)),
        attachments=attachments_of(original, download),
    )


def _mentions_me(message: Message, me: BotIdentity) -> bool:
    """``@username`` anywhere in the text, or ``/cmd@username``."""
    name = me.username.lower()
    kinds = [MessageEntity.MENTION, MessageEntity.BOT_COMMAND, MessageEntity.TEXT_MENTION]
    found = message.parse_entities(kinds) if message.text else message.parse_caption_entities(kinds)
    for entity, text in found.items():
        if entity.type == MessageEntity.TEXT_MENTION:
            if entity.user is not None and me.is_me(entity.user.id):
                return True
        elif entity.type == MessageEntity.MENTION:
            if text.lower() == f"@{name}":
                return True
        elif text.partition("@")[2].lower() == name:
            return True
    return False


def attachments_of(message: Message, download: Downloader | None) -> tuple[Attachment, ...]:
    """A document sent with the message, described; its bytes are fetched only if a task reads it.

    Photos, voice notes and the like are not files a task can use, so only
    documents are described (and only when the transport can download them).
    """
    document = message.document
    if document is None or download is None:
        return ()
    name = document.file_name or f"document-{document.file_unique_id}"
    return (
        Attachment(
            name, document.mime_type, document.file_size, partial(download, document.file_id)
        ),
    )


def incoming_message(
    message: Message, me: BotIdentity, download: Downloader | None = None
) -> IncomingMessage | None:
    """A message or channel post for the core, or ``None`` when there is nothing to answer.

    Service messages (joins, pins) are skipped, and so is media without a
    caption in groups; in a private chat such media reaches the core with
    empty text, which answers with a hint instead of staying silent (or, for
    a document, hands it to a pending question such as ``/kb add``'s).
    """
    text = message.text or message.caption or ""
    kind = chat_kind(message.chat)
    if not text and (kind != ChatKind.PRIVATE or message.effective_attachment is None):
        return None
    if message.from_user is not None:
        if me.is_me(message.from_user.id):
            return None
        user_id, user_name = str(message.from_user.id), message.from_user.full_name
    else:  # channel posts and anonymous admins write as a chat
        sender = message.sender_chat or message.chat
        user_id, user_name = str(sender.id), sender.title or sender.full_name or str(sender.id)
    quoted = _quoted(message, me, download)
    addressed = (
        kind == ChatKind.PRIVATE
        or (quoted is not None and quoted.from_bot)
        or _mentions_me(message, me)
    )
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        chat_kind=kind,
        user_id=user_id,
        user_name=user_name or user_id,
        text=text,
        message_id=str(message.message_id),
        reply_to=quoted,
        thread_id=thread_of(message),
        addressed=addressed,
        attachments=attachments_of(message, download),
        received_at=message.date,
    )


def incoming_press(query: CallbackQuery, action: str) -> IncomingMessage | None:
    """A button press for the core; ``None`` when Telegram no longer tells us the chat."""
    message = query.message
    if message is None:
        return None
    thread = thread_of(message) if isinstance(message, Message) else None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        chat_kind=chat_kind(message.chat),
        user_id=str(query.from_user.id),
        user_name=query.from_user.full_name or str(query.from_user.id),
        text="",
        message_id=str(message.message_id),
        thread_id=thread,
        addressed=True,
        action=action,
    )
