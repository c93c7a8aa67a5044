"""Deleting what seqbot stores about one user in one chat (the /forget command)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState, Message, Reminder


@dataclass(frozen=True)
class Forgotten:
    messages: int
    dialogs: int
    reminders: int


async def forget_user_in_chat(
    session: AsyncSession, *, user_id: int, chat_id: int, platform: str, chat_external_id: str
) -> Forgotten:
    """Delete the user's messages (and the bot's answers to them), dialog and reminders here."""
    messages = await session.execute(
        delete(Message).where(Message.chat_id == chat_id, Message.user_id == user_id)
    )
    dialogs = await session.execute(
        delete(DialogState).where(DialogState.chat_id == chat_id, DialogState.user_id == user_id)
    )
    reminders = await session.execute(
        delete(Reminder).where(
            Reminder.user_id == user_id,
            Reminder.platform == platform,
            Reminder.chat_external_id == chat_external_id,
        )
    )
    return Forgotten(messages.rowcount or 0, dialogs.rowcount or 0, reminders.rowcount or 0)
