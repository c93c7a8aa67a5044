"""Reminder queries, each named after the question it answers.

The ``reminders`` table is the source of truth for delivery: the dispatcher
claims due rows with a lease (status ``sending``) so that several dispatcher
processes never send one reminder twice, and every later write is fenced by
the lease it claimed with, so a dispatcher whose lease ran out cannot
overwrite the work of the one that took over.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from storage.models import Reminder, ReminderStatus, User

#: Reminders that still count against the per-user cap and can still fire.
ACTIVE = (ReminderStatus.PENDING, ReminderStatus.SENDING, ReminderStatus.PAUSED)


@dataclass(frozen=True, slots=True)
class ClaimedReminder:
    """A snapshot of a reminder claimed for sending, with the lease that fences its updates."""

    id: int
    user_id: int | None
    platform: str
    chat_external_id: str
    thread_id: str | None
    text: str
    timezone: str
    rrule: str | None
    occurs_at: datetime
    #: When this attempt was due (later than ``occurs_at`` on retries).
    due_at: datetime
    attempts: int
    mention: str | None
    lease_until: datetime


async def add_reminder(session: AsyncSession, **fields: object) -> Reminder:
    """Store a new pending reminder; ``occurs_at`` defaults to ``due_at``."""
    fields.setdefault("occurs_at", fields["due_at"])
    reminder = Reminder(status=ReminderStatus.PENDING, attempts=0, **fields)
    session.add(reminder)
    await session.flush()
    return reminder


async def active_count_for_user(session: AsyncSession, user_id: int) -> int:
    """How many reminders of this user can still fire (what the per-user cap limits)."""
    query = select(func.count(Reminder.id)).where(
        Reminder.user_id == user_id, Reminder.status.in_(ACTIVE)
    )
    return int(await session.scalar(query) or 0)


async def active_reminders_in_chat(
    session: AsyncSession, user_id: int, platform: str, chat_external_id: str
) -> list[Reminder]:
    """The user's reminders in this chat that can still fire, soonest first."""
    query = (
        select(Reminder)
        .where(
            Reminder.user_id == user_id,
            Reminder.platform == platform,
            Reminder.chat_external_id == chat_external_id,
            Reminder.status.in_(ACTIVE),
        )
        .order_by(Reminder.due_at, Reminder.id)
    )
    return list(await session.scalars(query))


async def upcoming_for_person(
    session: AsyncSession, platform: str, external_user_id: str, limit: int = 20
) -> list[Reminder]:
    """A person's reminders that can still fire, in every chat, soonest first (Slack's Home).

    Looked up by the platform's user id, so a person the bot never stored has none.
    """
    query = (
        select(Reminder)
        .join(User, User.id == Reminder.user_id)
        .where(
            User.platform == platform,
            User.external_id == external_user_id,
            Reminder.status.in_(ACTIVE),
        )
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def reminder_in_reach(
    session: AsyncSession, reminder_id: int, *, user_id: int, platform: str, chat_external_id: str
) -> Reminder | None:
    """The reminder with this id if this user may change it: their own, or one posted here.

    Ids are guessable, so anyone else's reminder elsewhere is treated as missing.
    """
    return await session.scalar(
        select(Reminder).where(
            Reminder.id == reminder_id,
            or_(
                Reminder.user_id == user_id,
                and_(
                    Reminder.platform == platform,
                    Reminder.chat_external_id == chat_external_id,
                ),
            ),
        )
    )


async def next_due_at(session: AsyncSession, platforms: Collection[str]) -> datetime | None:
    """When the dispatcher next has work: the earliest pending due time or expiring lease."""
    if not platforms:
        return None
    pending = await session.scalar(
        select(func.min(Reminder.due_at)).where(
            Reminder.status == ReminderStatus.PENDING, Reminder.platform.in_(platforms)
        )
    )
    leased = await session.scalar(
        select(func.min(Reminder.lease_until)).where(
            Reminder.status == ReminderStatus.SENDING, Reminder.platform.in_(platforms)
        )
    )
    times = [t for t in (pending, leased) if t is not None]
    if not times:
        return None
    # Aggregates bypass the column type on some backends; normalize to aware UTC.
    return min(Reminder.__table__.c.due_at.type.process_result_value(t, None) for t in times)


def _due_condition(now: datetime, platforms: Collection[str]):  # type: ignore[no-untyped-def]
    return and_(
        Reminder.platform.in_(platforms),
        or_(
            and_(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now),
            # A dispatcher that died mid-send left its lease behind; take it over.
            and_(Reminder.status == ReminderStatus.SENDING, Reminder.lease_until < now),
        ),
    )


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease_until: datetime,
    platforms: Collection[str],
    limit: int,
) -> list[ClaimedReminder]:
    """Atomically take up to ``limit`` due reminders for sending, earliest first.

    One statement for both backends: on PostgreSQL the inner SELECT takes row
    locks with ``FOR UPDATE SKIP LOCKED``, so concurrent dispatchers pick
    disjoint rows without waiting; SQLite ignores the locking clause, but it
    runs one writer at a time, so the conditional ``UPDATE ... RETURNING`` is
    atomic there by itself. Only platforms this process can post to are
    claimed; the rest stay pending for a process that can.
    """
    if not platforms:
        return []
    statement = _claim_statement(session.bind.dialect.name, now, lease_until, platforms, limit)
    rows = (await session.execute(statement)).all()
    claimed = [_claimed(row, lease_until) for row in rows]
    claimed.sort(key=lambda c: (c.occurs_at, c.id))
    return claimed


#: What a claim reads back from each row it took, in :class:`ClaimedReminder`'s terms.
_CLAIMED_COLUMNS = (
    Reminder.id,
    Reminder.user_id,
    Reminder.platform,
    Reminder.chat_external_id,
    Reminder.thread_id,
    Reminder.text,
    Reminder.timezone,
    Reminder.rrule,
    Reminder.occurs_at,
    Reminder.due_at,
    Reminder.attempts,
    Reminder.mention,
)


def _claim_statement(
    dialect: str, now: datetime, lease_until: datetime, platforms: Collection[str], limit: int
) -> ReturningUpdate[Any]:
    """``UPDATE reminders SET status = 'sending' ... RETURNING`` for the earliest due rows.

    The UPDATE checks the due condition again, so it never takes a row that stopped
    being due after the inner SELECT chose it.
    """
    candidates = (
        select(Reminder.id)
        .where(_due_condition(now, platforms))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if dialect == "postgresql":
        # A CTE runs once. As ``id IN (subquery)`` PostgreSQL may re-run the locking
        # subquery per row (a SubPlan) and each run skips to fresh rows: LIMIT is lost.
        chosen = candidates.cte("claimable")
        condition = Reminder.id == chosen.c.id
    else:
        condition = Reminder.id.in_(candidates.scalar_subquery())
    return (
        update(Reminder)
        .where(condition, _due_condition(now, platforms))
        .values(
            status=ReminderStatus.SENDING,
            lease_until=lease_until,
            attempts=Reminder.attempts + 1,
        )
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )


def _claimed(row: Row[Any], lease_until: datetime) -> ClaimedReminder:
    """The snapshot of one claimed row; a row without ``occurs_at`` occurs when it is due."""
    return ClaimedReminder(
        id=row.id,
        user_id=row.user_id,
        platform=row.platform,
        chat_external_id=row.chat_external_id,
        thread_id=row.thread_id,
        text=row.text,
        timezone=row.timezone,
        rrule=row.rrule,
        occurs_at=row.occurs_at or row.due_at,
        due_at=row.due_at,
        attempts=row.attempts,
        mention=row.mention,
        lease_until=lease_until,
    )


def _leased(claimed: ClaimedReminder):  # type: ignore[no-untyped-def]
    """Still ours: nobody took the row over after our lease ran out."""
    return and_(
        Reminder.id == claimed.id,
        Reminder.status == ReminderStatus.SENDING,
        Reminder.lease_until == claimed.lease_until,
    )


async def mark_sent(
    session: AsyncSession, claimed: list[ClaimedReminder], sent_at: datetime
) -> int:
    """Finish one-off reminders that the platform accepted; returns how many rows were ours.

    ``claimed`` come from one claim (they share its lease); rows another dispatcher took
    over after that lease ran out are left alone.
    """
    if not claimed:
        return 0
    lease = claimed[0].lease_until
    result = await session.execute(
        update(Reminder)
        .where(
            Reminder.id.in_([c.id for c in claimed]),
            Reminder.status == ReminderStatus.SENDING,
            Reminder.lease_until == lease,
        )
        .values(status=ReminderStatus.SENT, sent_at=sent_at, lease_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def reschedule(
    session: AsyncSession,
    claimed: ClaimedReminder,
    *,
    due_at: datetime,
    occurs_at: datetime | None = None,
    sent_at: datetime | None = None,
    error: str | None = None,
    reset_attempts: bool = False,
    attempts: int | None = None,
) -> bool:
    """Put a claimed reminder back to pending: a retry (new ``due_at`` only) or the next occurrence."""
    values: dict[str, object] = {
        "status": ReminderStatus.PENDING,
        "due_at": due_at,
        "lease_until": None,
        "last_error": error[:1000] if error else None,
    }
    if occurs_at is not None:
        values["occurs_at"] = occurs_at
    if sent_at is not None:
        values["sent_at"] = sent_at
    if reset_attempts:
        values["attempts"] = 0
    elif attempts is not None:
        values["attempts"] = attempts
    result = await session.execute(
        update(Reminder)
        .where(_leased(claimed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def release(session: AsyncSession, claimed: ClaimedReminder, reason: str | None) -> bool:
    """Give a claimed reminder back untouched (no transport here), without counting an attempt."""
    return await reschedule(
        session, claimed, due_at=claimed.due_at, attempts=claimed.attempts - 1, error=reason
    )


async def finish(
    session: AsyncSession,
    claimed: ClaimedReminder,
    status: ReminderStatus,
    *,
    error: str | None = None,
    sent_at: datetime | None = None,
) -> bool:
    """End a claimed reminder as failed, missed or sent, with the error that ended it."""
    result = await session.execute(
        update(Reminder)
        .where(_leased(claimed))
        .values(
            status=status,
            lease_until=None,
            last_error=error[:1000] if error else None,
            sent_at=sent_at,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def set_status(session: AsyncSession, reminder_id: int, status: ReminderStatus) -> None:
    """Cancel, complete or re-arm a reminder from a command (not from the dispatcher)."""
    await session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(status=status, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def snooze(session: AsyncSession, reminder_id: int, until: datetime) -> None:
    """Fire this reminder again at ``until`` (a one-off: re-armed, whatever its state)."""
    await session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(
            status=ReminderStatus.PENDING,
            due_at=until,
            occurs_at=until,
            attempts=0,
            lease_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


async def pause_in_chat(session: AsyncSession, platform: str, external_id: str, reason: str) -> int:
    """Pause a chat's pending reminders (the bot can no longer post there); returns how many."""
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


async def resume_in_chat(session: AsyncSession, platform: str, external_id: str) -> None:
    """Make a chat's paused reminders pending again (the chat is reachable once more)."""
    await session.execute(
        update(Reminder)
        .where(
            Reminder.platform == platform,
            Reminder.chat_external_id == external_id,
            Reminder.status == ReminderStatus.PAUSED,
        )
        .values(status=ReminderStatus.PENDING)
    )
