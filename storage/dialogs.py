"""Pending dialog steps: one per user and chat, stored so they survive restarts, with expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState, utcnow


@dataclass(frozen=True)
class PendingDialog:
    task: str
    step: str
    data: dict[str, Any]
    expires_at: datetime


async def set_dialog(
    session: AsyncSession,
    *,
    chat_id: int,
    user_id: int,
    task: str,
    step: str,
    data: dict[str, Any],
    expires_at: datetime,
) -> None:
    """Start (or replace) the user's pending step in this chat."""
    await session.execute(
        delete(DialogState).where(DialogState.chat_id == chat_id, DialogState.user_id == user_id)
    )
    session.add(
        DialogState(
            chat_id=chat_id, user_id=user_id, task=task, step=step, data=data, expires_at=expires_at
        )
    )
    await session.flush()


async def take_dialog(session: AsyncSession, *, chat_id: int, user_id: int) -> PendingDialog | None:
    """Remove and return the pending step, or None if there is none or it expired."""
    row = await session.scalar(
        select(DialogState).where(DialogState.chat_id == chat_id, DialogState.user_id == user_id)
    )
    if row is None:
        return None
    await session.delete(row)
    if row.expires_at <= utcnow():
        return None
    return PendingDialog(row.task, row.step, dict(row.data), row.expires_at)
