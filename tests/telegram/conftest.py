"""seqbot running against the fake Bot API by long polling, on the ``db`` fixture's database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app import open_bot, start_transport
from bot.core import Bot
from bot.plugins import PluginRegistry, Task
from bot.settings import Settings
from bot.transports.telegram import TelegramTransport
from bot.transports.telegram.webhook import SECRET_HEADER
from storage.db import Database
from storage.models import Reminder, ReminderStatus, utcnow
from tests.fixtures import tasks as sample
from tests.telegram.fake_api import TOKEN, FakeBotAPI

# ----- the sample tasks and the running bot ---------------------------------------------------

#: ``/pick``'s buttons here: one payload is too long for the 64 bytes of Telegram's callback data.
BUTTONS = {"Red": "red", "Long": "x" * 80}


def registry(*extra: Task) -> PluginRegistry:
    """The sample tasks (``/echo``, ``/pick``, ``/essay``, the gated ``/think``) and ``extra``."""
    return sample.registry(sample.Echo(buttons=BUTTONS), sample.Gated(), *extra)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def telegram_settings(settings: Settings, fake_api: FakeBotAPI) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_api_url": fake_api.base_url,
            "default_task": "echo",
        }
    )


async def add_reminder(
    db: Database,
    chat_id: str,
    text: str = "water the plants",
    *,
    due_in: timedelta = timedelta(hours=1),
    thread_id: str | None = None,
) -> int:
    """A Telegram reminder stored as ``/remind`` would store it; returns its id."""
    async with db.session() as session:
        reminder = Reminder(
            platform="telegram",
            chat_external_id=chat_id,
            thread_id=thread_id,
            text=text,
            due_at=utcnow() + due_in,
        )
        session.add(reminder)
        await session.flush()
        return reminder.id


async def reminder_status(db: Database, reminder_id: int) -> ReminderStatus:
    async with db.session() as session:
        reminder = await session.get(Reminder, reminder_id)
    assert reminder is not None, f"reminder {reminder_id} is gone"
    return reminder.status


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for an effect with no API call to watch (database writes); fails on timeout."""

    async def poll() -> None:
        while not await check():  # noqa: ASYNC110 - a database write has no event to await
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@dataclass
class RunningBot:
    bot: Bot
    transport: TelegramTransport
    api: FakeBotAPI
    db: Database


def make_transport(settings: Settings) -> TelegramTransport:
    """Short long polls and retry delays keep the tests fast; the code paths are the real ones."""
    return TelegramTransport(settings, poll_timeout=1, retry_backoff=(0.05, 0.05))


@pytest.fixture
async def running(
    db: Database, telegram_settings: Settings, fake_api: FakeBotAPI
) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await running()`` starts seqbot against the fake API on ``db``."""
    stack = contextlib.AsyncExitStack()

    async def start(
        *,
        plugins: PluginRegistry | None = None,
        with_reminders: bool = False,
        engine: Any = None,
        **overrides: Any,
    ) -> RunningBot:
        """``engine``: a scripted pool (``tests.tasks.conftest.FakePool``) for model tasks."""
        local = telegram_settings.model_copy(update=overrides) if overrides else telegram_settings
        bot = await stack.enter_async_context(
            open_bot(
                local,
                db=db,
                plugins=plugins or registry(),
                engine=engine,
                with_engine=False,
                with_reminders=with_reminders,
            )
        )
        transport = make_transport(local)
        await start_transport(bot, transport)
        return RunningBot(bot, transport, fake_api, db)

    async with stack:
        yield start


# ----- webhook mode ----------------------------------------------------------------------

SECRET = "s3cret_Token-42"
#: Settings overrides that put the bot in webhook mode on a free port.
WEBHOOK = {
    "telegram_webhook_url": "https://bot.example/telegram/hook",
    "telegram_webhook_secret": SecretStr(SECRET),
    "telegram_webhook_port": 0,
}


def hook_url(bot: RunningBot) -> str:
    return f"http://127.0.0.1:{bot.transport.webhook_port}/telegram/hook"


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes | str, secret: str | None = SECRET
) -> int:
    """POST ``body`` to a webhook as Telegram would and return the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body.encode() if isinstance(body, str) else body
    async with http.post(url, data=data, headers=headers) as response:
        return response.status


@pytest.fixture
async def webhook(
    running: Callable[..., Any],
) -> AsyncIterator[tuple[RunningBot, Callable[..., Awaitable[int]]]]:
    """A bot in webhook mode and ``post(body, secret=SECRET)``, which returns the HTTP status."""
    bot = await running(**WEBHOOK)
    async with aiohttp.ClientSession() as http:

        async def post_here(body: bytes | str, secret: str | None = SECRET) -> int:
            return await post(http, hook_url(bot), body, secret)

        yield bot, post_here
