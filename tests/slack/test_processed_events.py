"""Event-id claims: the first claim wins, on SQLite and PostgreSQL, even when claims race."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from storage.events import claim_event, prune_events
from storage.models import ProcessedEvent, utcnow


async def claim(db, event_id: str, platform: str = "slack") -> bool:
    async with db.session() as session:
        return await claim_event(session, platform, event_id)


async def test_only_the_first_claim_of_an_event_wins(db) -> None:
    assert await claim(db, "Ev1") is True
    assert await claim(db, "Ev1") is False
    assert await claim(db, "Ev2") is True
    assert await claim(db, "Ev1", platform="other") is True  # ids are per platform


async def test_concurrent_claims_of_one_event_have_one_winner(db) -> None:
    results = await asyncio.gather(*(claim(db, "EvRace") for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_old_claims_are_pruned(db) -> None:
    await claim(db, "EvOld")
    async with db.session() as session:
        row = await session.get(ProcessedEvent, ("slack", "EvOld"))
        assert row is not None
        row.created_at = utcnow() - timedelta(days=2)
    await claim(db, "EvNew")

    async with db.session() as session:
        deleted = await prune_events(session, utcnow() - timedelta(days=1))
    async with db.session() as session:
        left = await session.scalars(select(ProcessedEvent.event_id))
        count = await session.scalar(select(func.count()).select_from(ProcessedEvent))
        assert (deleted, list(left), count) == (1, ["EvNew"], 1)
