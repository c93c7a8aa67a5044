"""A Bot API that comes up after seqbot does (container start order, a flapping link).

``seqbot run`` retries an unreachable platform with backoff for
``SEQBOT_STARTUP_RETRY_SECONDS``, one WARNING per retry, and gives up with the
one-line error; a token the platform rejects ends the start at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.app import open_bot, start_platforms
from bot.transports.base import TransportStartError
from tests.telegram.conftest import make_transport, registry
from tests.telegram.fake_api import FakeBotAPI


class LateBotAPI(FakeBotAPI):
    """The fake Bot API on a port chosen in advance, so a client can try it before it listens."""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "retrying in" in r.getMessage()
    ]


async def test_start_waits_for_an_api_that_comes_up_late(db, settings, caplog) -> None:
    api = LateBotAPI(port=_free_port())
    local = settings.model_copy(
        update={
            "telegram_token": SecretStr("123456:TEST-token"),
            "telegram_api_url": api.base_url,
            "startup_retry_seconds": 60.0,
        }
    )
    transport = make_transport(local)
    caplog.set_level(logging.WARNING, logger="bot.app")
    try:
        async with open_bot(
            local, db=db, plugins=registry(), with_engine=False, with_reminders=False
        ) as bot:
            starting = asyncio.create_task(start_platforms(bot, [transport], asyncio.Event()))

            async def first_retry() -> None:
                """A log line has no event to await: poll, within a generous deadline."""
                while not _retry_warnings(caplog):
                    assert not starting.done(), starting.result()
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(first_retry(), 30)
            await api.start()
            assert await asyncio.wait_for(starting, 30) is True
            assert list(bot.services.transports) == [transport]
    finally:
        await api.stop()
    warning = _retry_warnings(caplog)[0]
    assert warning.startswith("telegram: Could not reach the Telegram Bot API at ")
    assert "TEST-token" not in warning and "\n" not in warning
    assert [c.method for c in api.calls][:1] == ["getMe"]


async def test_start_gives_up_after_the_retry_budget(db, settings, caplog) -> None:
    local = settings.model_copy(
        update={
            "telegram_token": SecretStr("123456:TEST-token"),
            "telegram_api_url": f"http://127.0.0.1:{_free_port()}/bot",
            "startup_retry_seconds": 1.5,
        }
    )
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with open_bot(
        local, db=db, plugins=registry(), with_engine=False, with_reminders=False
    ) as bot:
        with pytest.raises(TransportStartError, match="Could not reach the Telegram Bot API"):
            await start_platforms(bot, [make_transport(local)], asyncio.Event())
    assert 1 <= len(_retry_warnings(caplog)) <= 2


async def test_a_rejected_token_is_not_retried(db, telegram_settings, fake_api, caplog) -> None:
    bad = telegram_settings.model_copy(
        update={"telegram_token": SecretStr("123456:WRONG"), "startup_retry_seconds": 60.0}
    )
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with open_bot(
        bad, db=db, plugins=registry(), with_engine=False, with_reminders=False
    ) as bot:
        with pytest.raises(TransportStartError, match="rejected the bot token"):
            await start_platforms(bot, [make_transport(bad)], asyncio.Event())
    assert _retry_warnings(caplog) == []
    assert [c.status for c in fake_api.calls] == [401]


async def test_stop_during_the_retries_ends_the_start_quietly(db, settings) -> None:
    local = settings.model_copy(
        update={
            "telegram_token": SecretStr("123456:TEST-token"),
            "telegram_api_url": f"http://127.0.0.1:{_free_port()}/bot",
            "startup_retry_seconds": 600.0,
        }
    )
    stop = asyncio.Event()
    stop.set()  # SIGTERM arrived while the network was down
    async with open_bot(
        local, db=db, plugins=registry(), with_engine=False, with_reminders=False
    ) as bot:
        assert await start_platforms(bot, [make_transport(local)], stop) is False
        assert list(bot.services.transports) == []
