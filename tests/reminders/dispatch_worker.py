"""A dispatcher process for the multi-process tests and the benchmark's cousin.

Runs one :class:`ReminderDispatcher` against a PostgreSQL schema with a
transport that appends each delivered reminder id to a file (one ``write`` per
line on an ``O_APPEND`` descriptor, so lines survive a SIGKILL) and exits once
no reminder is pending or being sent.

    python -m tests.reminders.dispatch_worker URL SCHEMA OUT [--delay-ms N] [--lease S]
        [--batch N] [--concurrency N] [--send-timeout S] [--margin S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import timedelta

from sqlalchemy import func, select

from bot.context import Services
from bot.messages import Address, Reply
from bot.plugins import PluginRegistry
from bot.reminders import DispatchPolicy, ReminderDispatcher
from bot.settings import Settings
from bot.transports.base import Transport, TransportRegistry
from storage.db import Database
from storage.models import Reminder, ReminderStatus


class FileTransport(Transport):
    """Records "the platform accepted reminder N" as a line in a file, then returns."""

    platform = "fake"

    def __init__(self, path: str, delay: float) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.delay = delay

    async def start(self, bot) -> None:  # type: ignore[no-untyped-def]
        return None

    async def stop(self) -> None:
        os.close(self.fd)

    async def send(self, address: Address, reply: Reply, *, reply_to: str | None = None) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        reminder_id = reply.buttons[-1].action.rsplit(":", 1)[1]
        os.write(self.fd, f"{reminder_id}\n".encode())
        return reminder_id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("out")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--send-timeout", type=float, default=20.0)
    parser.add_argument("--margin", type=float, default=5.0)
    args = parser.parse_args()

    db = Database(args.url, connect_args={"server_settings": {"search_path": args.schema}})
    settings = Settings(_env_file=None, database_url=args.url)
    registry = TransportRegistry()
    registry.register(FileTransport(args.out, args.delay_ms / 1000))
    services = Services(settings=settings, db=db, transports=registry, plugins=PluginRegistry())
    policy = DispatchPolicy(
        batch_size=args.batch,
        concurrency=args.concurrency,
        lease=timedelta(seconds=args.lease),
        send_timeout=args.send_timeout,
        record_margin=timedelta(seconds=args.margin),
    )
    dispatcher = ReminderDispatcher(services, policy=policy)
    print("ready", flush=True)
    try:
        while True:
            await dispatcher.dispatch_due()
            async with db.session() as session:
                left = await session.scalar(
                    select(func.count(Reminder.id)).where(
                        Reminder.status.in_([ReminderStatus.PENDING, ReminderStatus.SENDING])
                    )
                )
            if not left:
                return
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
