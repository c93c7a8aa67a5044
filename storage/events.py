"""Platform event ids already handled, so a retried delivery runs once across all workers.

Slack re-sends an event when it did not see a quick 200 (``X-Slack-Retry-Num``);
with several workers behind a load balancer the retry may reach another
process, so the memory of what was handled lives in the database. A claim is
a single ``INSERT … ON CONFLICT DO NOTHING``: whichever worker inserts the row
first handles the event, every other claim of the same id returns False.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedEvent, utcnow


async def claim_event(session: AsyncSession, platform: str, event_id: str) -> bool:
    """Record ``event_id`` as handled; True only for the first claim of that id, ever.

    Atomic on SQLite and PostgreSQL (the primary key decides, not a prior SELECT),
    so two workers receiving the same retry at the same moment cannot both win.
    """
    values = {"platform": platform, "event_id": event_id[:128], "created_at": utcnow()}
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        statement = postgresql.insert(ProcessedEvent).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(ProcessedEvent).values(**values).on_conflict_do_nothing()
    else:  # other backends: let the primary key refuse the duplicate
        try:
            async with session.begin_nested():
                await session.execute(insert(ProcessedEvent).values(**values))
        except IntegrityError:
            return False
        return True
    result = await session.execute(statement)
    return (result.rowcount or 0) == 1


async def prune_events(session: AsyncSession, older_than: datetime) -> int:
    """Forget event ids claimed before ``older_than``; returns how many rows were deleted.

    Platforms stop retrying within minutes, so a day of memory is plenty and
    keeps the table small.
    """
    result = await session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.created_at < older_than)
    )
    return result.rowcount or 0
