"""seqbot running against the fake Bot API by long polling, on the ``db`` fixture's database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app import open_bot, start_transport
from bot.core import Bot
from bot.messages import Button, Reply
from bot.plugins import PluginRegistry, Task, action, command
from bot.settings import Settings
from bot.transports.telegram import TelegramTransport
from bot.transports.telegram.webhook import SECRET_HEADER
from storage.db import Database
from tasks.core import CoreCommands
from tests.telegram.fake_api import TOKEN, FakeBotAPI

# ----- a tiny task and the running bot -------------------------------------------------------


class Palette(Task):
    """Commands that exercise what the Telegram transport renders: buttons, long text, typing."""

    name = "palette"
    summary = "Colours, long answers and echoes."
    usage = "/echo <text>"

    @command("echo")
    async def echo(self, ctx: Any, args: str) -> str:
        return args or "(nothing)"

    @command("pick")
    async def pick(self, ctx: Any, args: str) -> Reply:
        return Reply(
            "Pick one",
            buttons=(
                Button("Red", self.action_id("chose", "red")),
                Button("Long", self.action_id("chose", "x" * 80)),
            ),
        )

    @action("chose")
    async def chose(self, ctx: Any, payload: str) -> str:
        return f"You chose {payload[:12]} ({len(payload)} chars)."

    @command("essay")
    async def essay(self, ctx: Any, args: str) -> str:
        return essay()

    @command("work")
    async def work(self, ctx: Any, args: str) -> str:
        """Shows "typing…" until the test opens ``gate``."""
        async with ctx.working():
            await self.gate.wait()
        return "done"

    def __init__(self) -> None:
        self.gate = asyncio.Event()


def essay() -> str:
    """A 10,414-character answer of 21 paragraphs."""
    paragraph = ("Seqbot splits long answers at sentence ends. " * 11).strip()
    return "\n\n".join([paragraph] * 21)


def registry() -> PluginRegistry:
    plugins = PluginRegistry()
    plugins.add(CoreCommands())
    plugins.add(Palette())
    return plugins


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
        *, plugins: PluginRegistry | None = None, with_reminders: bool = False, **overrides: Any
    ) -> RunningBot:
        local = telegram_settings.model_copy(update=overrides) if overrides else telegram_settings
        bot = await stack.enter_async_context(
            open_bot(
                local,
                db=db,
                plugins=plugins or registry(),
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
