"""The reminder dispatcher: claims due reminders from the database and posts them.

The ``reminders`` table is the source of truth. APScheduler (3.x) only wakes
the dispatcher, with one date job at the next due time and one interval job
(the sweep) that also picks up leases left by a crashed process and platforms
whose transport started after the last look; it never holds a job per
reminder, so nothing is lost when the process dies and any number of
processes can share one database.

Any number of dispatchers post each reminder once, however slow the sends
(up to ``send_timeout``), by one rule: a row is only sent while its lease is
certain to outlive the send and the write of its outcome.

* A claim takes no more rows than fit in the lease: ``concurrency`` sends
  at a time, each at most ``send_timeout``, and ``record_margin`` left for
  the last write, i.e. ``concurrency * floor((lease - record_margin) /
  send_timeout)`` rows (see :attr:`DispatchPolicy.claim_size`).
* Each outcome is committed as soon as its send completes (group commit: one
  writer takes every outcome finished so far), not when the batch ends.
* A send starts only if ``now + send_timeout + record_margin`` is still
  inside the lease (and the dispatcher is not stopping); otherwise the row is
  given back untouched, so a stalled process never sends on a lease that
  another process may already have taken over.
* Every write is fenced by the lease it claimed with; a takeover is never
  overwritten.

Leases are sized rather than renewed: a renewal would be a second writer
racing the final writes on the same fencing token, and a renewal that comes
late (slow database, blocked loop) fails exactly like no renewal.

What remains is at-least-once with a small window: a crash (or a database
write slower than ``record_margin``) between the platform accepting a message
and the commit of its outcome makes the reminder due again when its lease
runs out, so it is posted twice; a send that times out is retried although
the platform may have accepted it. No other crash loses or duplicates one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Address
from bot.reminders.delivery import delivery
from bot.reminders.occurrence import next_occurrence
from bot.transports.base import ChatUnavailable, DeliveryError, UnknownPlatform
from storage import reminders as store
from storage.models import ReminderStatus

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
    #: Part of every lease kept for committing the outcome of the last send.
    record_margin: timedelta = timedelta(seconds=5)
    sweep_seconds: float = 15.0
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=15)
    backoff_max: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.claim_size < 1:
            raise ValueError(
                "The reminder lease must be longer than send_timeout + record_margin; "
                "raise the lease or lower the send timeout."
            )

    @property
    def claim_size(self) -> int:
        """Rows per claim: as many as can all be sent and recorded before their lease ends."""
        waves = (self.lease - self.record_margin) // timedelta(seconds=self.send_timeout)
        return min(self.batch_size, self.concurrency * max(waves, 0))

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        """15 s, 30 s, 1 min, ... capped; a platform's ``retry_after`` is a floor."""
        delay = min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_max)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay


@dataclass(frozen=True)
class _Outcome:
    """What became of one claimed reminder: sent, missed, retry, release or unavailable."""

    kind: Literal["sent", "missed", "retry", "release", "unavailable"]
    error: BaseException | None = None


_Outcomes = list[tuple["ClaimedReminder", _Outcome]]


@dataclass
class _GroupCommit:
    """Writes each outcome as soon as its send completes, batching whatever finished meanwhile.

    One writer at a time (a FIFO lock) takes every outcome queued so far and commits
    them together, so ``record`` returns once its own outcome is committed, by this
    call or by the one before it, and the database sees one write per wave, not per row.
    """

    write: Callable[[_Outcomes], Awaitable[None]]
    queued: _Outcomes = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def record(self, claimed: ClaimedReminder, outcome: _Outcome) -> None:
        self.queued.append((claimed, outcome))
        async with self.lock:
            if not self.queued:
                return  # the writer before us committed ours too
            batch, self.queued = self.queued, []
            try:
                await self.write(batch)
            except Exception:
                log.exception("recording %d reminder outcomes failed; they are retried when "
                              "their lease runs out", len(batch))  # fmt: skip


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
        """Stop waking and starting sends; let sends in progress finish, then stop the timers.

        The pass is waited for *before* the scheduler goes, so it never plans its next
        wake-up on a scheduler that is gone. Rows of the claim whose send had not started
        are given back at once (another process, or the next start, sends them), so this
        waits at most one send and its write.
        """
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            patience = self.policy.send_timeout + self.policy.record_margin.total_seconds()
            done, _ = await asyncio.wait({runner}, timeout=patience)
            if not done:
                runner.cancel()
                await asyncio.wait({runner})
                log.warning("reminder sends still running at stop were cut off; they are "
                            "retried when their lease runs out")  # fmt: skip
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

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
        scheduler = self._scheduler
        if scheduler is None or self._stopping:
            return
        async with self.services.db.session() as session:
            due = await store.next_due_at(session, self._platforms())
        if due is None:
            with contextlib.suppress(Exception):
                scheduler.remove_job("reminder-next")
            return
        # The clock may be a test's; APScheduler runs on real time, so schedule the distance.
        delay = max((due - self.clock()).total_seconds(), 0.0)
        scheduler.add_job(
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
        """Send everything due now, claim by claim; returns how many reminders were posted."""
        posted = 0
        limit = self.policy.claim_size
        while not self._stopping:
            now = self.clock()
            async with self.services.db.session() as session:
                batch = await store.claim_due(
                    session,
                    now=now,
                    lease_until=now + self.policy.lease,
                    platforms=self._platforms(),
                    limit=limit,
                )
            if not batch:
                break
            outcomes = await self._deliver(batch)
            posted += sum(1 for _, outcome in outcomes if outcome.kind == "sent")
            # Rows given back for lack of time are due at once: leave them to the next pass
            # (planned right after this one) rather than spin on a slow database.
            if len(batch) < limit or any(o.kind == "release" for _, o in outcomes):
                break
        return posted

    async def _deliver(self, batch: list[ClaimedReminder]) -> _Outcomes:
        """Send one claim, ``concurrency`` at a time, recording each outcome as it completes."""
        gate = asyncio.Semaphore(self.policy.concurrency)
        recorder = _GroupCommit(self._record)
        outcomes: _Outcomes = []

        async def one(claimed: ClaimedReminder) -> None:
            async with gate:
                outcome = await self._attempt(claimed)
            # Outside the gate: the next send need not wait for this write, so a claim
            # takes one send time per wave, as ``claim_size`` assumes.
            outcomes.append((claimed, outcome))
            await recorder.record(claimed, outcome)

        await asyncio.gather(*(one(c) for c in batch))
        return outcomes

    def _may_start(self, claimed: ClaimedReminder) -> bool:
        """Whether the lease outlives this send and its write even if the send takes its limit."""
        if self._stopping:
            return False
        latest_end = self.clock() + timedelta(seconds=self.policy.send_timeout)
        return latest_end + self.policy.record_margin <= claimed.lease_until

    async def _attempt(self, claimed: ClaimedReminder) -> _Outcome:
        """Post one reminder (unless its lease is too short by now) and say what happened."""
        if not self._may_start(claimed):
            return _Outcome("release")
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
            return _Outcome("unavailable", exc)
        except UnknownPlatform as exc:
            return _Outcome("release", exc)
        except (DeliveryError, TimeoutError) as exc:
            return _Outcome("retry", exc)
        except Exception as exc:  # a transport bug must not stop the other reminders
            log.exception("sending reminder %s failed", claimed.id)
            return _Outcome("retry", exc)
        return _Outcome("missed" if missed else "sent")

    async def _record(self, outcomes: _Outcomes) -> None:
        """Commit outcomes of one claim; every write is fenced by the claim's lease."""
        now = self.clock()
        sent_once = [c for c, o in outcomes if o.kind == "sent" and c.rrule is None]
        async with self.services.db.session() as session:
            mine = await store.mark_sent(session, sent_once, now)
            if mine < len(sent_once):
                log.warning("%d reminders were taken over by another dispatcher after their "
                            "lease ran out; they may have been sent twice",
                            len(sent_once) - mine)  # fmt: skip
            for claimed, outcome in outcomes:
                if outcome.kind == "unavailable" or (outcome.kind == "sent" and not claimed.rrule):
                    continue  # paused below; or finished by mark_sent above
                await self._record_one(session, claimed, outcome.kind, outcome.error, now)
        for claimed, outcome in outcomes:
            if outcome.kind == "unavailable":
                address = Address(claimed.platform, claimed.chat_external_id, claimed.thread_id)
                await self.services.replier.chat_unavailable(address, str(outcome.error))

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
            # Not sent: no transport for this platform here (it stopped meanwhile), too
            # little lease left, or stopping. Another process or a later pass posts it.
            # Not an attempt: nothing was tried.
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
