"""Per-chat message history: what the bot saw and said, kept within retention limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Message, utcnow


@dataclass(frozen=True)
class Retention:
    """How much history a chat keeps: a message count and an age (None: no age limit)."""

    keep: int
    max_age: timedelta | None


@dataclass(frozen=True)
class StoredMessage:
    """A history row detached from the session, safe to hand to tasks."""

    id: int
    user_id: int | None
    author_name: str
    from_bot: bool
    text: str
    created_at: datetime
    thread_id: str | None


def _detach(row: Message) -> StoredMessage:
    return StoredMessage(
        row.id, row.user_id, row.author_name, row.from_bot, row.text, row.created_at, row.thread_id
    )


async def record(
    session: AsyncSession,
    *,
    chat_id: int,
    user_id: int | None,
    author_name: str,
    text: str,
    from_bot: bool = False,
    external_id: str | None = None,
    thread_id: str | None = None,
    created_at: datetime | None = None,
    retention: Retention | None = None,
) -> int:
    """Store one message; with ``retention``, the chat's oldest rows beyond it are deleted."""
    row = Message(
        chat_id=chat_id,
        user_id=user_id,
        author_name=author_name,
        from_bot=from_bot,
        text=text,
        external_id=external_id,
        thread_id=thread_id,
        created_at=created_at or utcnow(),
    )
    session.add(row)
    await session.flush()
    if retention is not None:
        await prune(session, chat_id=chat_id, keep=retention.keep, max_age=retention.max_age)
    return row.id


async def recent(
    session: AsyncSession,
    *,
    chat_id: int,
    limit: int | None = None,
    since: datetime | None = None,
    user_id: int | None = None,
) -> list[StoredMessage]:
    """The newest ``limit`` messages (since ``since``), returned oldest first."""
    query = select(Message).where(Message.chat_id == chat_id)
    if since is not None:
        query = query.where(Message.created_at >= since)
    if user_id is not None:
        query = query.where(Message.user_id == user_id)
    query = query.order_by(Message.created_at.desc(), Message.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.scalars(query)).all()
    return [_detach(row) for row in reversed(rows)]


async def prune(
    session: AsyncSession, *, chat_id: int, keep: int, max_age: timedelta | None
) -> int:
    """Apply retention to one chat: at most ``keep`` messages, none older than ``max_age``.

    Returns the number of rows deleted. ``keep`` of 0 means keep nothing.
    """
    deleted = 0
    if max_age is not None:
        result = await session.execute(
            delete(Message).where(
                Message.chat_id == chat_id, Message.created_at < utcnow() - max_age
            )
        )
        deleted += result.rowcount or 0
    total = await session.scalar(select(func.count()).where(Message.chat_id == chat_id))
    if total and total > keep:
        cutoff = (
            select(Message.id)
            .where(Message.chat_id == chat_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .offset(keep)
            .limit(total - keep)
        )
        ids = list((await session.scalars(cutoff)).all())
        if ids:
            result = await session.execute(delete(Message).where(Message.id.in_(ids)))
            deleted += result.rowcount or 0
    return deleted
