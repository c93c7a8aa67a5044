"""Users and chats: found or created on every message, with per-user settings."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base, Chat, User
from storage.reminders import pause_in_chat, resume_in_chat

T = TypeVar("T", bound=Base)


async def _get_or_create(session: AsyncSession, model: type[T], **key: str) -> tuple[T, bool]:
    """The row with this unique key, created if missing; safe when two workers race to create it."""
    query = select(model).filter_by(**key)
    row = await session.scalar(query)
    if row is not None:
        return row, False
    try:
        async with session.begin_nested():
            row = model(**key)
            session.add(row)
        return row, True
    except IntegrityError:  # created concurrently by another worker
        row = await session.scalar(query)
        if row is None:
            raise
        return row, False


async def user_for(session: AsyncSession, platform: str, external_id: str, name: str) -> User:
    """The stored user, created on first sight; the display name follows the platform's."""
    user, _ = await _get_or_create(session, User, platform=platform, external_id=external_id)
    if name and user.display_name != name:
        user.display_name = name
    return user


async def find_user(session: AsyncSession, platform: str, external_id: str) -> User | None:
    """The stored user, or None for someone who never wrote to the bot."""
    return await session.scalar(
        select(User).where(User.platform == platform, User.external_id == external_id)
    )


async def chat_for(session: AsyncSession, platform: str, external_id: str, kind: str) -> Chat:
    """The stored chat, created on first sight; a message from an inactive chat revives it."""
    chat, created = await _get_or_create(session, Chat, platform=platform, external_id=external_id)
    if created:
        chat.kind = kind
    elif not chat.active:
        # A message from the chat means we are welcome again: resume what was paused.
        chat.active = True
        chat.inactive_reason = None
        await resume_in_chat(session, platform, external_id)
    return chat


async def set_user_setting(session: AsyncSession, user_id: int, **values: str | None) -> None:
    allowed = {"timezone", "language"}
    if not set(values) <= allowed:
        raise ValueError(f"unknown user settings: {set(values) - allowed}")
    await session.execute(update(User).where(User.id == user_id).values(**values))


async def mark_chat_unavailable(
    session: AsyncSession, platform: str, external_id: str, reason: str
) -> int:
    """Mark a chat inactive and pause its pending reminders; returns how many were paused."""
    await session.execute(
        update(Chat)
        .where(Chat.platform == platform, Chat.external_id == external_id)
        .values(active=False, inactive_reason=reason[:256])
    )
    return await pause_in_chat(session, platform, external_id, reason)
