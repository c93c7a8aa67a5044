"""The dispatcher against a real database (SQLite and PostgreSQL), on a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.context import Services
from bot.messages import Address, Reply
from bot.plugins import PluginRegistry
from bot.reminders import DispatchPolicy, ReminderDispatcher, system_clock
from bot.settings import Settings
from bot.transports.base import ChatUnavailable, DeliveryError, TransportRegistry, UnknownPlatform
from storage import reminders as store
from storage.db import Database
from storage.models import Reminder, ReminderStatus
from tasks.reminders.parsing import parse_reminder
from tests.reminders.conftest import FakeClock, RecordingTransport


def dispatcher_for(
    db: Database, settings: Settings, clock: FakeClock, *transports: RecordingTransport, **policy
) -> ReminderDispatcher:
    registry = TransportRegistry()
    for transport in transports:
        registry.register(transport)
    services = Services(settings=settings, db=db, transports=registry, plugins=PluginRegistry())
    return ReminderDispatcher(services, clock=clock, policy=DispatchPolicy(**policy))


async def add(db: Database, due: datetime, text: str = "stretch", **fields) -> int:
    fields.setdefault("platform", "fake")
    fields.setdefault("chat_external_id", "c1")
    async with db.session() as session:
        reminder = await store.add_reminder(session, text=text, due_at=due, **fields)
        return reminder.id


async def row(db: Database, reminder_id: int) -> Reminder:
    async with db.session() as session:
        found = await session.get(Reminder, reminder_id)
        assert found is not None
        return found


async def test_a_due_reminder_is_sent_once_with_buttons(db, settings, clock) -> None:
    transport = RecordingTransport()
    dispatcher = dispatcher_for(db, settings, clock, transport)
    rid = await add(db, clock.now + timedelta(minutes=5), thread_id="t9")

    assert await dispatcher.dispatch_due() == 0
    clock.advance(minutes=5)
    assert await dispatcher.dispatch_due() == 1
    assert await dispatcher.dispatch_due() == 0

    address, reply = transport.sent[0]
    assert address == Address("fake", "c1", "t9")
    assert reply.text == "⏰ stretch"
    assert [b.action for b in reply.buttons] == [
        f"remind:snooze:{rid}:10m", f"remind:snooze:{rid}:1h", f"remind:done:{rid}"
    ]  # fmt: skip
    stored = await row(db, rid)
    assert stored.status == ReminderStatus.SENT and stored.sent_at == clock.now


async def test_after_downtime_overdue_reminders_say_how_late(db, settings, clock) -> None:
    await add(db, clock.now, "call Anna")
    clock.advance(hours=2)  # the bot was down
    transport = RecordingTransport()
    assert await dispatcher_for(db, settings, clock, transport).dispatch_due() == 1
    assert transport.texts == ["⏰ call Anna (late by 2 h)"]


async def test_beyond_the_grace_a_reminder_is_reported_missed(db, settings, clock) -> None:
    settings = settings.model_copy(update={"reminder_grace_minutes": 60})
    once = await add(db, clock.now, "one-off")
    daily = await add(
        db, clock.now, "daily", rrule="FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", timezone="UTC"
    )
    clock.advance(hours=3)
    transport = RecordingTransport()
    dispatcher = dispatcher_for(db, settings, clock, transport)
    await dispatcher.dispatch_due()

    assert sorted(transport.texts) == [
        "Missed reminder (due 3 h ago, I was offline): daily\n"
        "It repeats; the next one will come on time.",
        "Missed reminder (due 3 h ago, I was offline): one-off",
    ]
    assert (await row(db, once)).status == ReminderStatus.MISSED
    series = await row(db, daily)
    assert series.status == ReminderStatus.PENDING
    assert series.due_at == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert await dispatcher.dispatch_due() == 0  # told once


async def test_a_crashed_dispatchers_claims_are_recovered_after_the_lease(
    db, settings, clock
) -> None:
    ids = [await add(db, clock.now, f"r{i}") for i in range(3)]
    async with db.session() as session:  # a dispatcher claims, then dies before sending
        claimed = await store.claim_due(
            session, now=clock.now, lease_until=clock.now + timedelta(seconds=60),
            platforms={"fake"}, limit=10,
        )  # fmt: skip
    assert [c.id for c in claimed] == ids

    transport = RecordingTransport()
    restarted = dispatcher_for(db, settings, clock, transport)
    assert await restarted.dispatch_due() == 0  # still leased: the other might be sending
    clock.advance(seconds=61)
    assert await restarted.dispatch_due() == 3
    assert sorted(transport.texts) == ["⏰ r0 (late by 1 min)", "⏰ r1 (late by 1 min)",
                                       "⏰ r2 (late by 1 min)"]  # fmt: skip
    assert {(await row(db, i)).status for i in ids} == {ReminderStatus.SENT}


async def test_a_late_writer_cannot_overwrite_a_takeover(db, settings, clock) -> None:
    rid = await add(db, clock.now)
    async with db.session() as session:
        first = await store.claim_due(
            session, now=clock.now, lease_until=clock.now + timedelta(seconds=1),
            platforms={"fake"}, limit=1,
        )  # fmt: skip
    later = clock.now + timedelta(seconds=5)
    async with db.session() as session:
        second = await store.claim_due(
            session, now=later, lease_until=later + timedelta(seconds=60),
            platforms={"fake"}, limit=1,
        )  # fmt: skip
    assert [c.id for c in second] == [rid]
    async with db.session() as session:
        assert await store.mark_sent(session, first, later) == 0  # fenced by its old lease
        assert await store.mark_sent(session, second, later) == 1


async def test_daily_0230_across_spring_forward_and_fall_back(db, settings, clock) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    transport = RecordingTransport()
    dispatcher = dispatcher_for(db, settings, clock, transport)
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    parsed = parse_reminder("every day at 2:30 backup", now=clock.now, zone="Europe/Berlin")
    rid = await add(db, parsed.due_at, parsed.text, rrule=parsed.rrule, timezone="Europe/Berlin")

    fired = []
    for _ in range(3):
        clock.set((await row(db, rid)).due_at)
        assert await dispatcher.dispatch_due() == 1
        fired.append(clock.now.astimezone(berlin).isoformat(timespec="minutes"))
    assert fired == ["2026-03-28T02:30+01:00", "2026-03-29T03:30+02:00", "2026-03-30T02:30+02:00"]

    clock.set(datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    parsed = parse_reminder("every day at 2:30 backup", now=clock.now, zone="Europe/Berlin")
    rid = await add(db, parsed.due_at, parsed.text, rrule=parsed.rrule, timezone="Europe/Berlin")
    clock.set((await row(db, rid)).due_at)
    assert await dispatcher.dispatch_due() == 1
    assert clock.now.astimezone(berlin).isoformat(timespec="minutes") == "2026-10-25T02:30+02:00"
    clock.advance(hours=1)  # 02:30 again, now in CET: it must not fire a second time
    assert await dispatcher.dispatch_due() == 0
    next_due = (await row(db, rid)).due_at.astimezone(berlin)
    assert next_due.isoformat(timespec="minutes") == "2026-10-26T02:30+01:00"


async def test_delivery_errors_back_off_honour_retry_after_then_fail(db, settings, clock) -> None:
    def refuse(address: Address, reply: Reply) -> None:
        raise DeliveryError("429 Too Many Requests", retry_after=120)

    transport = RecordingTransport(before_send=refuse)
    dispatcher = dispatcher_for(db, settings, clock, transport, max_attempts=3)
    rid = await add(db, clock.now)

    await dispatcher.dispatch_due()
    first = await row(db, rid)
    assert first.status == ReminderStatus.PENDING and first.attempts == 1
    assert first.due_at == clock.now + timedelta(seconds=120)  # retry_after beats 15 s
    assert first.occurs_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # lateness stays true
    assert first.last_error == "DeliveryError: 429 Too Many Requests"

    transport.before_send = lambda a, r: (_ for _ in ()).throw(DeliveryError("502"))
    clock.set(first.due_at)
    await dispatcher.dispatch_due()
    second = await row(db, rid)
    assert second.attempts == 2 and second.due_at == clock.now + timedelta(seconds=30)

    clock.set(second.due_at)
    await dispatcher.dispatch_due()
    final = await row(db, rid)
    assert final.status == ReminderStatus.FAILED and final.last_error == "DeliveryError: 502"
    assert transport.sent == []


async def test_a_chat_that_blocked_the_bot_pauses_its_reminders(db, settings, clock) -> None:
    def blocked(address: Address, reply: Reply) -> None:
        raise ChatUnavailable("Forbidden: bot was blocked by the user")

    dispatcher = dispatcher_for(db, settings, clock, RecordingTransport(before_send=blocked))
    due_now = await add(db, clock.now)
    later = await add(db, clock.now + timedelta(days=1))
    elsewhere = await add(db, clock.now + timedelta(days=1), chat_external_id="c2")
    await dispatcher.dispatch_due()
    assert (await row(db, due_now)).status == ReminderStatus.PAUSED
    assert (await row(db, later)).status == ReminderStatus.PAUSED
    assert (await row(db, elsewhere)).status == ReminderStatus.PENDING
    clock.advance(days=2)
    assert await dispatcher.dispatch_due() == 0  # no retrying a blocked chat


async def test_reminders_for_a_platform_not_running_here_wait_for_it(db, settings, clock) -> None:
    console = await add(db, clock.now, platform="console")
    fake = RecordingTransport()
    dispatcher = dispatcher_for(db, settings, clock, fake)
    assert await dispatcher.dispatch_due() == 0
    stored = await row(db, console)
    assert stored.status == ReminderStatus.PENDING and stored.attempts == 0

    def gone(address: Address, reply: Reply) -> None:  # transport stopped mid-batch
        raise UnknownPlatform("no fake transport is running")

    fake.before_send = gone
    rid = await add(db, clock.now)
    await dispatcher.dispatch_due()
    released = await row(db, rid)
    assert released.status == ReminderStatus.PENDING and released.attempts == 0

    console_transport = RecordingTransport(platform="console")
    later = dispatcher_for(db, settings, clock, console_transport)
    assert await later.dispatch_due() == 1
    assert console_transport.texts == ["⏰ stretch"]


async def test_two_dispatchers_share_the_work_without_duplicates(db, settings, clock) -> None:
    async with db.session() as session:
        for i in range(300):
            await store.add_reminder(
                session, text=f"r{i}", due_at=clock.now, platform="fake", chat_external_id="c"
            )

    class Slow(RecordingTransport):
        async def send(self, address, reply, *, reply_to=None):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)  # let the other dispatcher interleave
            return await super().send(address, reply)

    a, b = Slow(), Slow()
    one = dispatcher_for(db, settings, clock, a, batch_size=25)
    two = dispatcher_for(db, settings, clock, b, batch_size=25)
    await asyncio.gather(one.dispatch_due(), two.dispatch_due())
    texts = a.texts + b.texts
    assert len(texts) == 300 and len(set(texts)) == 300


async def test_the_scheduler_wakes_the_dispatcher_at_the_due_time(db, settings) -> None:
    arrived = asyncio.Event()
    transport = RecordingTransport(before_send=lambda a, r: arrived.set())
    registry = TransportRegistry()
    registry.register(transport)
    services = Services(settings=settings, db=db, transports=registry, plugins=PluginRegistry())
    dispatcher = ReminderDispatcher(services, policy=DispatchPolicy(sweep_seconds=3600))
    await dispatcher.start()
    try:
        await add(db, datetime.now(UTC) + timedelta(milliseconds=300))
        dispatcher.wake()  # what /remind does after storing it
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        await dispatcher.stop()
    async with db.session() as session:
        statuses = set(await session.scalars(select(Reminder.status)))
    assert statuses == {ReminderStatus.SENT}


async def statuses_of(db: Database, ids: list[int]) -> list[ReminderStatus]:
    async with db.session() as session:
        rows = dict((await session.execute(select(Reminder.id, Reminder.status))).all())
    return [rows[i] for i in ids]


async def test_a_claim_holds_no_more_than_can_be_sent_within_its_lease(db, settings, clock) -> None:
    # Defaults: 60 s lease, 20 s send timeout, 5 s kept for writing the outcome. At
    # concurrency 1 only floor((60 - 5) / 20) = 2 sends fit in one lease, so a claim is 2 rows.
    ids = [await add(db, clock.now, f"r{i}") for i in range(5)]
    leased: list[int] = []

    class Slow(RecordingTransport):
        async def send(self, address, reply, *, reply_to=None):  # type: ignore[no-untyped-def]
            leased.append((await statuses_of(db, ids)).count(ReminderStatus.SENDING))
            clock.advance(seconds=19)  # just inside the send timeout
            return await super().send(address, reply)

    dispatcher = dispatcher_for(db, settings, clock, Slow(), concurrency=1)
    assert await dispatcher.dispatch_due() == 5
    assert max(leased) == 2
    assert set(await statuses_of(db, ids)) == {ReminderStatus.SENT}


async def test_each_send_is_recorded_as_it_completes_not_when_its_claim_ends(
    db, settings, clock
) -> None:
    ids = [await add(db, clock.now, f"r{i}") for i in range(3)]
    last_started, finish_last = asyncio.Event(), asyncio.Event()

    class LastIsSlow(RecordingTransport):
        async def send(self, address, reply, *, reply_to=None):  # type: ignore[no-untyped-def]
            if reply.text == "⏰ r2":
                last_started.set()
                await finish_last.wait()
            return await super().send(address, reply)

    dispatcher = dispatcher_for(db, settings, clock, LastIsSlow(), concurrency=3)
    dispatching = asyncio.create_task(dispatcher.dispatch_due())
    try:
        await asyncio.wait_for(last_started.wait(), timeout=10)
        deadline = asyncio.get_running_loop().time() + 10
        while await statuses_of(db, ids) != [ReminderStatus.SENT, ReminderStatus.SENT,
                                             ReminderStatus.SENDING]:  # fmt: skip
            assert asyncio.get_running_loop().time() < deadline, await statuses_of(db, ids)
            await asyncio.sleep(0.02)
    finally:
        finish_last.set()
        assert await dispatching == 3
    assert set(await statuses_of(db, ids)) == {ReminderStatus.SENT}


async def test_a_send_that_could_outlast_its_lease_is_released_not_started(
    db, settings, clock
) -> None:
    first = await add(db, clock.now, "a")
    second = await add(db, clock.now, "b")
    stalls = iter([40.0, 0.0])  # a stalled process (or a slow database) ate most of the lease
    transport = RecordingTransport(
        before_send=lambda a, r: clock.advance(seconds=next(stalls)) and None
    )
    dispatcher = dispatcher_for(db, settings, clock, transport, concurrency=1)

    assert await dispatcher.dispatch_due() == 1
    assert transport.texts == ["⏰ a"]
    assert (await row(db, first)).status == ReminderStatus.SENT
    released = await row(db, second)
    assert released.status == ReminderStatus.PENDING
    assert released.attempts == 0 and released.lease_until is None

    assert await dispatcher.dispatch_due() == 1
    assert len(transport.texts) == 2 and transport.texts[1].startswith("⏰ b")
    assert (await row(db, second)).status == ReminderStatus.SENT


def test_a_lease_too_short_for_one_send_is_refused() -> None:
    with pytest.raises(ValueError, match="lease"):
        DispatchPolicy(lease=timedelta(seconds=20), send_timeout=20.0)


async def test_stop_lets_sends_in_progress_finish_and_gives_back_the_rest(
    db, settings, clock
) -> None:
    ids = [await add(db, clock.now, f"r{i}") for i in range(3)]
    sending, go_on = asyncio.Event(), asyncio.Event()

    class Held(RecordingTransport):
        async def send(self, address, reply, *, reply_to=None):  # type: ignore[no-untyped-def]
            sending.set()
            await go_on.wait()
            return await super().send(address, reply)

    transport = Held()
    dispatcher = dispatcher_for(db, settings, clock, transport, concurrency=1, sweep_seconds=3600)
    await dispatcher.start()
    await sending.wait()
    asyncio.get_running_loop().call_soon(go_on.set)  # the send completes while stop() waits
    await dispatcher.stop()

    assert transport.texts == ["⏰ r0"]
    assert (await row(db, ids[0])).status == ReminderStatus.SENT
    for rid in ids[1:]:
        left = await row(db, rid)
        assert left.status == ReminderStatus.PENDING and left.attempts == 0


async def test_stopping_while_the_next_wake_up_is_planned_logs_no_error(
    db, settings, monkeypatch, caplog
) -> None:
    # Issue 10 #13: `printf '/remind ...' | seqbot chat` logged a traceback at exit.
    await add(db, datetime.now(UTC) + timedelta(hours=1))
    planning, go_on = asyncio.Event(), asyncio.Event()
    real_next_due_at = store.next_due_at

    async def held_next_due_at(session, platforms):  # type: ignore[no-untyped-def]
        planning.set()
        await go_on.wait()
        return await real_next_due_at(session, platforms)

    monkeypatch.setattr(store, "next_due_at", held_next_due_at)
    dispatcher = dispatcher_for(db, settings, system_clock, RecordingTransport(),
                                sweep_seconds=3600)  # fmt: skip
    await dispatcher.start()
    await planning.wait()
    asyncio.get_running_loop().call_soon(go_on.set)  # planning goes on while stop() runs
    with caplog.at_level(logging.WARNING):
        await dispatcher.stop()
        await dispatcher.idle()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
