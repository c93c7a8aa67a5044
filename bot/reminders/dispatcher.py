"""The reminder dispatcher: claims due reminders from the database and posts them.

The ``reminders`` table is the source of truth. APScheduler (3.x) only wakes
the dispatcher, with one date job at the next due time and one interval job
(the sweep) that also picks up leases left by a crashed process and platforms
whose transport started after the last look; it never holds a job per
reminder, so nothing is lost when the process dies and any number of
processes can share one database.

Delivery is at-least-once with a small window: a reminder is claimed (status
``sending`` + lease) and committed before the send, and marked sent after it.
A crash between the platform accepting a message and that commit makes the
reminder due again when its lease runs out, so it is posted twice; no other
crash loses or duplicates one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Address
from bot.transports.base import ChatUnavailable, DeliveryError, UnknownPlatform, mark_unavailable
from storage import reminders as store
from storage.models import ReminderStatus
from tasks.reminders.formatting import delivery
from tasks.reminders.parsing import next_occurrence

if TYPE_CHECKING:
    from bot.context import Services
    from storage.reminders import ClaimedReminder

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DispatchPolicy:
    """How hard the dispatcher works and how patiently it retries (defaults suit one process)."""

    batch_size: int = 200
    concurrency: int = 50
    lease: timedelta = timedelta(seconds=60)
    send_timeout: float = 20.0
    sweep_seconds: float = 15.0
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=15)
    backoff_max: timedelta = timedelta(minutes=15)

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        """15 s, 30 s, 1 min, ... capped; a platform's ``retry_after`` is a floor."""
        delay = min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_max)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay


@dataclass
class _Outcomes:
    sent_once: list[ClaimedReminder] = field(default_factory=list)
    unavailable: list[tuple[ClaimedReminder, str]] = field(default_factory=list)
    other: list[tuple[ClaimedReminder, str, BaseException | None]] = field(default_factory=list)


class ReminderDispatcher:
    """Wakes at the next due reminder, claims a batch, sends it, records what happened."""

    def __init__(
        self,
        services: Services,
        *,
        clock: Clock = system_clock,
        policy: DispatchPolicy | None = None,
    ) -> None:
        self.services = services
        self.clock = clock
        self.policy = policy or DispatchPolicy()
        self.grace = timedelta(minutes=services.settings.reminder_grace_minutes)
        self._scheduler: AsyncIOScheduler | None = None
        self._runner: asyncio.Task[None] | None = None
        self._again = False
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sweep and look for due reminders at once (catching up after downtime)."""
        self._stopping = False
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(
            self._on_timer,
            "interval",
            seconds=self.policy.sweep_seconds,
            id="reminder-sweep",
            coalesce=True,
            max_instances=1,
        )
        # Transports are registered right after start (open_bot, then start_transport): look
        # again shortly so reminders already due for them do not wait for the first sweep.
        self._scheduler.add_job(
            self._on_timer, "date", run_date=datetime.now(UTC) + timedelta(seconds=1),
            id="reminder-settle", misfire_grace_time=None,
        )  # fmt: skip
        self._scheduler.start()
        self.wake()

    async def stop(self) -> None:
        """Stop waking; let a batch being sent finish so its outcome is recorded."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._runner), timeout=30)
            self._runner = None

    def wake(self) -> None:
        """Look again soon: a reminder was created or snoozed, or a timer fired."""
        if self._stopping:
            return
        self._again = True
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def idle(self) -> None:
        """Wait until the current pass (dispatch and planning) has finished."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def _on_timer(self) -> None:
        self.wake()

    async def _run(self) -> None:
        while self._again and not self._stopping:
            self._again = False
            try:
                await self.dispatch_due()
                await self._plan_next()
            except Exception:
                log.exception("reminder dispatch failed; the sweep will try again")

    async def _plan_next(self) -> None:
        """Set the one date job to the next due time (the sweep covers everything else)."""
        if self._scheduler is None:
            return
        async with self.services.db.session() as session:
            due = await store.next_due_at(session, self._platforms())
        if due is None:
            with contextlib.suppress(Exception):
                self._scheduler.remove_job("reminder-next")
            return
        # The clock may be a test's; APScheduler runs on real time, so schedule the distance.
        delay = max((due - self.clock()).total_seconds(), 0.0)
        self._scheduler.add_job(
            self._on_timer,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            id="reminder-next",
            replace_existing=True,
            misfire_grace_time=None,
        )

    # -- one pass ----------------------------------------------------------------------------

    def _platforms(self) -> set[str]:
        return {transport.platform for transport in self.services.transports}

    async def dispatch_due(self) -> int:
        """Send everything due now, batch by batch; returns how many reminders were posted."""
        posted = 0
        while not self._stopping:
            platforms = self._platforms()
            now = self.clock()
            async with self.services.db.session() as session:
                batch = await store.claim_due(
                    session,
                    now=now,
                    lease_until=now + self.policy.lease,
                    platforms=platforms,
                    limit=self.policy.batch_size,
                )
            if not batch:
                break
            posted += await self._deliver(batch)
            if len(batch) < self.policy.batch_size:
                break
        return posted

    async def _deliver(self, batch: list[ClaimedReminder]) -> int:
        gate = asyncio.Semaphore(self.policy.concurrency)
        outcomes = _Outcomes()

        async def one(claimed: ClaimedReminder) -> None:
            async with gate:
                await self._send_one(claimed, outcomes)

        await asyncio.gather(*(one(c) for c in batch))
        await self._record(outcomes)
        return len(outcomes.sent_once) + sum(1 for _, kind, _ in outcomes.other if kind == "sent")

    async def _send_one(self, claimed: ClaimedReminder, outcomes: _Outcomes) -> None:
        now = self.clock()
        late_by = max(now - claimed.occurs_at, timedelta(0))
        missed = late_by > self.grace
        reply = delivery(
            claimed.id,
            claimed.text,
            late_by=late_by,
            mention=claimed.mention,
            missed=missed,
            recurring=claimed.rrule is not None,
        )
        address = Address(claimed.platform, claimed.chat_external_id, claimed.thread_id)
        try:
            await asyncio.wait_for(
                self.services.transports.send(address, reply), timeout=self.policy.send_timeout
            )
        except ChatUnavailable as exc:
            outcomes.unavailable.append((claimed, str(exc)))
        except UnknownPlatform as exc:
            outcomes.other.append((claimed, "release", exc))
        except (DeliveryError, TimeoutError) as exc:
            outcomes.other.append((claimed, "retry", exc))
        except Exception as exc:  # a transport bug must not stop the other reminders
            log.exception("sending reminder %s failed", claimed.id)
            outcomes.other.append((claimed, "retry", exc))
        else:
            if missed:
                outcomes.other.append((claimed, "missed", None))
            elif claimed.rrule is None:
                outcomes.sent_once.append(claimed)
            else:
                outcomes.other.append((claimed, "sent", None))

    async def _record(self, outcomes: _Outcomes) -> None:
        now = self.clock()
        async with self.services.db.session() as session:
            mine = await store.mark_sent(session, outcomes.sent_once, now)
            if mine < len(outcomes.sent_once):
                log.warning("%d reminders were taken over by another dispatcher after their "
                            "lease ran out; they may have been sent twice",
                            len(outcomes.sent_once) - mine)  # fmt: skip
            for claimed, kind, exc in outcomes.other:
                await self._record_one(session, claimed, kind, exc, now)
        for claimed, reason in outcomes.unavailable:
            address = Address(claimed.platform, claimed.chat_external_id, claimed.thread_id)
            paused = await mark_unavailable(self.services.db, address, reason)
            log.info("chat %s refuses the bot (%s): paused %d reminders", address, reason, paused)

    async def _record_one(
        self,
        session: AsyncSession,
        claimed: ClaimedReminder,
        kind: str,
        exc: BaseException | None,
        now: datetime,
    ) -> None:
        error = f"{type(exc).__name__}: {exc}" if exc else None
        if kind == "release":
            # No transport for this platform here (it stopped meanwhile); another process
            # or a later start posts it. Not an attempt: nothing was tried.
            await store.release(session, claimed, error)
            return
        if kind in ("sent", "missed"):
            if claimed.rrule:
                await self._advance(session, claimed, now, sent_at=now)
            else:
                await store.finish(session, claimed, ReminderStatus.MISSED, sent_at=now)
            return
        # kind == "retry"
        if claimed.attempts >= self.policy.max_attempts:
            log.warning("reminder %s failed %d times: %s", claimed.id, claimed.attempts, error)
            if claimed.rrule:  # one bad occurrence must not end a series
                await self._advance(session, claimed, now, error=error)
            else:
                await store.finish(session, claimed, ReminderStatus.FAILED, error=error)
            return
        retry_after = getattr(exc, "retry_after", None)
        due = now + self.policy.backoff(claimed.attempts, retry_after)
        await store.reschedule(session, claimed, due_at=due, error=error)

    async def _advance(
        self,
        session: AsyncSession,
        claimed: ClaimedReminder,
        now: datetime,
        *,
        sent_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Move a recurring reminder to its next occurrence after now, in its own zone."""
        assert claimed.rrule is not None
        following = next_occurrence(claimed.rrule, claimed.timezone, claimed.occurs_at, now)
        if following is None:
            await store.finish(session, claimed, ReminderStatus.SENT, sent_at=sent_at)
            return
        await store.reschedule(
            session,
            claimed,
            due_at=following,
            occurs_at=following,
            sent_at=sent_at,
            error=error,
            reset_attempts=True,
        )
