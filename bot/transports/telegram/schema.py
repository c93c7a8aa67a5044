"""The fields of a webhook update that seqbot reads, checked before python-telegram-bot sees them.

python-telegram-bot trusts its input: it builds objects from whatever JSON it
is given, so a message without a chat, or with a number for its text, becomes
an object that fails later, inside the handler, with a traceback. The webhook
accepts bodies from anyone who has the secret, so each body is first checked
against this schema and refused with a 400 when a field seqbot uses is missing
or has the wrong type. Fields seqbot does not use are left to the library.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

#: Telegram's ids fit in 64 bits; anything larger cannot be a chat, user or update.
Id = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
Count = Annotated[int, Strict(), Field(ge=0, le=2**31)]
#: Unix time up to the last second of year 9999, the most a ``datetime`` can hold.
Timestamp = Annotated[int, Strict(), Field(ge=0, le=253_402_300_799)]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class User(_Shape):
    id: Id
    is_bot: Flag
    first_name: Text
    last_name: Text | None = None
    username: Text | None = None


class Chat(_Shape):
    id: Id
    type: Text
    title: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    username: Text | None = None


class Entity(_Shape):
    type: Text
    offset: Count
    length: Count
    user: User | None = None


class Document(_Shape):
    file_id: Text
    file_unique_id: Text
    file_name: Text | None = None
    mime_type: Text | None = None
    file_size: Annotated[int, Strict(), Field(ge=0, le=2**53)] | None = None


class Message(_Shape):
    message_id: Id
    date: Timestamp
    chat: Chat
    sender: User | None = Field(default=None, alias="from")
    sender_chat: Chat | None = None
    text: Text | None = None
    caption: Text | None = None
    document: Document | None = None
    entities: list[Entity] | None = None
    caption_entities: list[Entity] | None = None
    reply_to_message: Message | None = None
    message_thread_id: Id | None = None
    is_topic_message: Flag | None = None


class CallbackQuery(_Shape):
    id: Text
    sender: User = Field(alias="from")
    data: Text | None = None
    message: Message | None = None


class InlineQuery(_Shape):
    id: Text
    sender: User = Field(alias="from")
    query: Text
    offset: Text


class ChatMember(_Shape):
    status: Text
    user: User


class ChatMemberUpdated(_Shape):
    chat: Chat
    sender: User = Field(alias="from")
    date: Timestamp
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class Update(_Shape):
    update_id: Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]
    message: Message | None = None
    channel_post: Message | None = None
    callback_query: CallbackQuery | None = None
    my_chat_member: ChatMemberUpdated | None = None
    inline_query: InlineQuery | None = None


def problem(data: dict[str, Any]) -> str | None:
    """Why ``data`` is not an update seqbot can read (``None`` when it is), in one short line."""
    try:
        Update.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "update"
        return f"{where}: {first['msg']}"
    return None
