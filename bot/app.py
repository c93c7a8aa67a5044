"""Putting seqbot together: settings → database → plugins → engine → reminders → transports.

Both ``seqbot run`` and ``seqbot chat`` (and the tests) build the bot here, so
every entry point runs the same core with the same storage and tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.context import Services
from bot.core import Bot
from bot.plugins import PluginRegistry
from bot.settings import ConfigError, Settings
from bot.transports.base import PlatformUnreachable, Transport, TransportRegistry
from storage.db import Database

log = logging.getLogger(__name__)

#: Builds the transports whose settings are present (filled by each transport module).
TransportFactory = Callable[[Settings], Transport | None]


def configured_transports(settings: Settings) -> list[Transport]:
    """Every platform transport whose settings are present (Telegram, Slack)."""
    from bot.transports.platforms import FACTORIES

    found = []
    for factory in FACTORIES:
        transport = factory(settings)
        if transport is not None:
            found.append(transport)
    return found


def make_engine_pool(settings: Settings) -> Any:
    """The shared engine pool; cheap either way, as nothing is loaded or asked until first use.

    With ``SEQBOT_ENGINE_URL`` the model runs on an engine server (``seqbot engine serve``)
    and this process loads none; otherwise models load here on first use.
    """
    if settings.engine_url:
        from bot.serving.client import RemotePool

        return RemotePool.from_settings(settings)
    from bot.engine import EngineConfig, EnginePool

    return EnginePool(EngineConfig.from_settings(settings), settings.model)


def make_reminders(services: Services) -> Any:
    """The reminder dispatcher, which wakes at the next due reminder."""
    from bot.reminders import DispatchPolicy, ReminderDispatcher

    settings = services.settings
    lease = timedelta(seconds=settings.reminder_lease_seconds)
    try:
        policy = DispatchPolicy(
            lease=lease,
            send_timeout=settings.reminder_send_timeout_seconds,
            # Time kept for recording outcomes: 5 s, or a fifth of a short (test) lease.
            record_margin=min(timedelta(seconds=5), lease / 5),
            sweep_seconds=settings.reminder_sweep_seconds,
        )
    except ValueError as exc:
        raise ConfigError(
            "SEQBOT_REMINDER_LEASE_SECONDS must be longer than "
            f"SEQBOT_REMINDER_SEND_TIMEOUT_SECONDS plus the time to record a send ({exc})"
        ) from None
    return ReminderDispatcher(services, policy=policy)


@contextlib.asynccontextmanager
async def open_bot(
    settings: Settings,
    *,
    db: Database | None = None,
    plugins: PluginRegistry | None = None,
    engine: Any = None,
    with_engine: bool = True,
    with_reminders: bool = True,
) -> AsyncIterator[Bot]:
    """A ready bot (database upgraded, plugins set up, dispatcher running); closes it all after.

    Raises :class:`storage.StorageError` when the database cannot be used.
    """
    for note in settings.startup_notes:
        log.info("%s", note)
    owns_db = db is None
    if db is None:
        db = Database(settings.database_url.get_secret_value())
    try:
        await db.upgrade()
        if plugins is None:
            plugins = PluginRegistry()
            plugins.load_entry_points()
        if engine is None and with_engine:
            engine = make_engine_pool(settings)
        services = Services(
            settings=settings, db=db, transports=TransportRegistry(), plugins=plugins, engine=engine
        )
        if with_reminders:
            services.reminders = make_reminders(services)
        await plugins.setup(services)
        bot = Bot(services)
        try:
            if services.reminders is not None:
                await services.reminders.start()
            yield bot
        finally:
            # Order matters: no new reminders, then no new messages (each transport
            # finishes the replies it has in progress), then whatever is left in flight.
            if services.reminders is not None:
                await services.reminders.stop()
            for transport in services.transports:
                try:
                    await transport.stop()
                except Exception:
                    log.exception("the %s transport did not stop cleanly", transport.platform)
            await bot.drain()
            if engine is not None and hasattr(engine, "close"):
                await engine.close()
    finally:
        if owns_db:
            await db.dispose()


async def start_transport(bot: Bot, transport: Transport) -> None:
    """Start ``transport``, then make it reachable for reminders and other proactive sends."""
    await transport.start(bot)
    bot.services.transports.register(transport)


HEARTBEAT_SECONDS = 30.0
#: ``seqbot health`` calls a heartbeat older than this stale (three missed beats).
HEARTBEAT_LIMIT = 3 * HEARTBEAT_SECONDS
#: Longest wait between two attempts to reach a platform at start.
MAX_RETRY_DELAY = 15.0


async def _beat(path: Path) -> None:
    """Touch ``path`` while the event loop is healthy; a stuck loop stops touching it."""
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(HEARTBEAT_SECONDS)


def heartbeat_age(path: Path, now: float) -> float | None:
    """Seconds since ``seqbot run`` last touched ``path``; None when there is no such file."""
    try:
        return max(0.0, now - path.stat().st_mtime)
    except FileNotFoundError:
        return None


async def start_platforms(bot: Bot, transports: list[Transport], stop: asyncio.Event) -> bool:
    """Start every transport, retrying a platform that cannot be reached yet.

    A network that comes up a little after the bot (container start order, a
    flapping link) should not need a restart loop, so an unreachable API is
    retried with exponential backoff for ``startup_retry_seconds``; a rejected
    token or a bad setting ends the start at once. Returns False when ``stop``
    was set while waiting (SIGTERM during the retries).
    """
    for transport in transports:
        if not await _start_with_retry(bot, transport, stop):
            return False
        log.info("%s transport started", transport.platform)
    return True


async def _start_with_retry(bot: Bot, transport: Transport, stop: asyncio.Event) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bot.settings.startup_retry_seconds
    delay = 1.0
    while True:
        try:
            await start_transport(bot, transport)
            return True
        except PlatformUnreachable as exc:
            left = deadline - loop.time()
            if left <= 0:
                raise
            wait = min(delay, left)
            log.warning(
                "%s: %s; retrying in %s (%s left of SEQBOT_STARTUP_RETRY_SECONDS)",
                transport.platform,
                exc,
                duration(wait),
                duration(left),
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        if stop.is_set():
            return False
        delay = min(delay * 2, MAX_RETRY_DELAY)


def duration(seconds: float) -> str:
    """``1.5 s``, ``45 s``, ``10 min``, ``3 h``: rounded the way a person reads a clock."""
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


async def run_until_stopped(bot: Bot, transports: list[Transport]) -> None:
    """Start ``transports`` and serve until SIGINT or SIGTERM.

    Shutdown itself belongs to :func:`open_bot`: it drains replies in progress
    before it stops the transports those replies are sent through.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if not await start_platforms(bot, transports, stop):
        log.info("stopped before every platform could be reached")
        return
    log.info("seqbot is running; press Ctrl+C to stop")
    heartbeat = None
    if bot.settings.heartbeat_file:
        heartbeat = asyncio.create_task(_beat(Path(bot.settings.heartbeat_file)))
    await stop.wait()
    if heartbeat is not None:
        heartbeat.cancel()
    log.info("stopping: finishing replies in progress")
