"""Reminder dispatcher benchmark on PostgreSQL: start time, lateness, throughput, memory.

Seeds a schema of its own (dropped afterwards) with 100,000 pending reminders:
80,000 due in the coming weeks, 10,000 due at distinct times within one
minute, and 10,000 due at the very same instant. One dispatcher process with
the default policy and a no-op transport that records when each send was
called. Lateness is "send call − due time".

    .venv/bin/python benchmarks/reminders.py [--url postgresql+asyncpg://...] [--spread 60]

Prints a table and writes benchmarks/results/reminders.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.context import Services  # noqa: E402
from bot.messages import Address, Reply  # noqa: E402
from bot.plugins import PluginRegistry  # noqa: E402
from bot.reminders import ReminderDispatcher  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.transports.base import Transport, TransportRegistry  # noqa: E402
from storage.db import Database  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
RESULTS = ROOT / "benchmarks" / "results" / "reminders.json"


@dataclass
class NoOpTransport(Transport):
    """Accepts every message at once and notes (reminder id, when the send was called)."""

    platform: str = "bench"
    calls: list[tuple[int, datetime]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    async def start(self, bot) -> None:  # type: ignore[no-untyped-def]
        return None

    async def stop(self) -> None:
        return None

    async def send(self, address: Address, reply: Reply, *, reply_to: str | None = None) -> str:
        self.calls.append((int(reply.buttons[-1].action.rsplit(":", 1)[1]), datetime.now(UTC)))
        if len(self.calls) >= self.expected:
            self.done.set()
        return "ok"


async def seed(dsn: str, schema: str, now: datetime, spread: float) -> dict[int, datetime]:
    """COPY 100,000 reminders in; returns the due time of each reminder expected to fire."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    due_of: dict[int, datetime] = {}
    try:
        rows = []
        distinct_start = now + timedelta(seconds=5)
        simultaneous = distinct_start + timedelta(seconds=spread + 5)
        for i in range(1, 100_001):
            if i <= 10_000:  # distinct times within one minute
                due = distinct_start + timedelta(seconds=spread * (i - 1) / 10_000)
                due_of[i] = due
            elif i <= 20_000:  # all at once
                due = simultaneous
                due_of[i] = due
            else:
                due = now + timedelta(days=1 + i % 28, seconds=i)
            naive = due.astimezone(UTC).replace(tzinfo=None)
            rows.append((i, "bench", f"c{i % 500}", f"reminder {i}", naive, naive, "UTC",
                         "pending", 0, naive))  # fmt: skip
            if len(rows) == 10_000:
                await _copy(conn, rows)
                rows = []
        await conn.execute("SELECT setval('reminders_id_seq', 100000)")
        await conn.execute("ANALYZE reminders")
    finally:
        await conn.close()
    return due_of


async def _copy(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    await conn.copy_records_to_table(
        "reminders",
        records=rows,
        columns=["id", "platform", "chat_external_id", "text", "due_at", "occurs_at",
                 "timezone", "status", "attempts", "created_at"],
    )  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(url: str, spread: float) -> dict[str, object]:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await db.upgrade()
        seed_started = time.perf_counter()
        due_of = await seed(dsn, schema, datetime.now(UTC), spread)
        seed_seconds = time.perf_counter() - seed_started

        transport = NoOpTransport(expected=len(due_of))
        registry = TransportRegistry()
        registry.register(transport)
        settings = Settings(_env_file=None, database_url=url)
        services = Services(settings=settings, db=db, transports=registry, plugins=PluginRegistry())

        started = time.perf_counter()
        dispatcher = ReminderDispatcher(services)
        await dispatcher.start()
        await dispatcher.idle()  # first look at the table done, next wake-up planned
        start_seconds = time.perf_counter() - started

        await asyncio.wait_for(transport.done.wait(), timeout=spread + 300)
        await dispatcher.idle()
        await dispatcher.stop()

        lateness = {rid: (at - due_of[rid]).total_seconds() for rid, at in transport.calls}
        distinct = [lateness[i] for i in range(1, 10_001)]
        burst_calls = sorted(at for rid, at in transport.calls if rid > 10_000)
        burst = [lateness[i] for i in range(10_001, 20_001)]
        drain = (burst_calls[-1] - due_of[10_001]).total_seconds()
        sent_ids = [rid for rid, _ in transport.calls]
        async with db.session() as session:
            rows = await session.execute(text("SELECT status, count(*) FROM reminders GROUP BY 1"))
            statuses = {status: count for status, count in rows}
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {platform.python_version()}",
            "reminders_total": 100_000,
            "seed_seconds": round(seed_seconds, 2),
            "start_seconds": round(start_seconds, 3),
            "distinct": {
                "count": len(distinct),
                "spread_seconds": spread,
                "lateness_p50_s": round(percentile(distinct, 50), 4),
                "lateness_p99_s": round(percentile(distinct, 99), 4),
                "lateness_max_s": round(max(distinct), 4),
            },
            "simultaneous": {
                "count": len(burst),
                "drain_seconds": round(drain, 3),
                "deliveries_per_second": round(len(burst) / drain, 1),
                "lateness_p50_s": round(percentile(burst, 50), 3),
                "lateness_p99_s": round(percentile(burst, 99), 3),
            },
            "duplicates": len(sent_ids) - len(set(sent_ids)),
            "statuses_after": statuses,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "mean_lateness_all_s": round(statistics.fmean(lateness.values()), 4),
        }
    finally:
        await db.dispose()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


def table(result: dict[str, object]) -> str:
    d, s = result["distinct"], result["simultaneous"]
    assert isinstance(d, dict) and isinstance(s, dict)
    rows = [
        ("pending reminders", f"{result['reminders_total']:,}"),
        ("dispatcher start (to first plan)", f"{result['start_seconds']:.3f} s  (target < 2 s)"),
        (f"distinct times ({d['count']:,} over {d['spread_seconds']:.0f} s): lateness p50",
         f"{d['lateness_p50_s'] * 1000:.1f} ms"),
        ("   lateness p99", f"{d['lateness_p99_s'] * 1000:.1f} ms  (target < 1 s)"),
        ("   lateness max", f"{d['lateness_max_s'] * 1000:.1f} ms"),
        (f"simultaneous ({s['count']:,} due at once): drained in",
         f"{s['drain_seconds']:.2f} s  (target < 20 s)"),
        ("   deliveries/s", f"{s['deliveries_per_second']:,.0f}"),
        ("   lateness p50 / p99", f"{s['lateness_p50_s']:.2f} s / {s['lateness_p99_s']:.2f} s"),
        ("duplicates", str(result["duplicates"])),
        ("peak RSS", f"{result['peak_rss_mb']} MB"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the distinct set spans")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.spread))
    print(table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
