"""Users and chats: found or created on every message, with per-user settings."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Chat, Reminder, ReminderStatus, User


async def user_for(session: AsyncSession, platform: str, external_id: str, name: str) -> User:
    """The stored user, created on first sight; the display name follows the platform's."""
    user = await session.scalar(
        select(User).where(User.platform == platform, User.external_id == external_id)
    )
    if user is None:
        user = User(platform=platform, external_id=external_id, display_name=name)
        try:
            async with session.begin_nested():
                session.add(user)
        except IntegrityError:  # created concurrently by another worker
            user = await session.scalar(
                select(User).where(User.platform == platform, User.external_id == external_id)
            )
            assert user is not None
    elif name and user.display_name != name:
        user.display_name = name
    return user


async def chat_for(session: AsyncSession, platform: str, external_id: str, kind: str) -> Chat:
    chat = await session.scalar(
        select(Chat).where(Chat.platform == platform, Chat.external_id == external_id)
    )
    if chat is None:
        chat = Chat(platform=platform, external_id=external_id, kind=kind)
        try:
            async with session.begin_nested():
                session.add(chat)
        except IntegrityError:
            chat = await session.scalar(
                select(Chat).where(Chat.platform == platform, Chat.external_id == external_id)
            )
            assert chat is not None
    elif not chat.active:
        # A message from the chat means we are welcome again: resume what was paused.
        chat.active = True
        chat.inactive_reason = None
        await session.execute(
            update(Reminder)
            .where(
                Reminder.platform == platform,
                Reminder.chat_external_id == external_id,
                Reminder.status == ReminderStatus.PAUSED,
            )
            .values(status=ReminderStatus.PENDING)
        )
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
    result = await session.execute(
        update(Reminder)
        .where(
            Reminder.platform == platform,
            Reminder.chat_external_id == external_id,
            Reminder.status.in_([ReminderStatus.PENDING, ReminderStatus.SENDING]),
        )
        .values(status=ReminderStatus.PAUSED, last_error=reason[:1000])
    )
    return result.rowcount or 0
