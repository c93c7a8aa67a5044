"""Shared fixtures: a database on SQLite *and* the real PostgreSQL, and a console chat.

Every test that takes ``db`` runs twice, once per backend. PostgreSQL tests get
a schema of their own (dropped afterwards), so tests are isolated and can run
in parallel against the one ``test`` database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.app import open_bot, start_transport
from bot.core import Bot
from bot.plugins import PluginRegistry
from bot.settings import Settings
from bot.transports.console import ConsoleTransport
from storage.db import Database

POSTGRES_URL = os.environ.get(
    "SEQBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _postgres_execute(statement: str) -> None:
    """Run one statement on the test server outside any Database (schemas come and go here)."""
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _postgres_database(schema: str) -> Database:
    await _postgres_execute(f'CREATE SCHEMA "{schema}"')
    return Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})


async def _drop_schema(schema: str) -> None:
    await _postgres_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test run; PostgreSQL is required unless explicitly off."""
    if request.param == "postgresql" and POSTGRES_URL == "off":
        pytest.skip("SEQBOT_TEST_POSTGRES_URL=off: PostgreSQL tests turned off")
    return request.param


@pytest.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database on the current backend."""
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'seqbot.db'}")
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        database = await _postgres_database(schema)
    try:
        await database.upgrade()
        yield database
    finally:
        await database.dispose()
        if schema:
            await _drop_schema(schema)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults, isolated from the developer's environment and .env file."""
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")


class Chat:
    """A console chat with a running bot: ``await chat.say('/help')`` returns the reply texts."""

    def __init__(self, bot: Bot, console: ConsoleTransport) -> None:
        self.bot = bot
        self.console = console

    async def say(self, text: str) -> list[str]:
        return [reply.text for reply in await self.console.say(text)]

    async def say_one(self, text: str) -> str:
        replies = await self.say(text)
        assert len(replies) == 1, replies
        return replies[0]


@pytest.fixture
async def make_chat(db: Database, settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory for chats on ``db``; pass ``plugins``/``engine`` to control what is loaded."""
    import contextlib
    import io

    stack = contextlib.AsyncExitStack()

    async def make(
        *,
        plugins: PluginRegistry | None = None,
        engine: object = None,
        with_engine: bool = False,
        with_reminders: bool = False,
        user_id: str = "alice",
        **overrides: object,
    ) -> Chat:
        local = settings.model_copy(update=overrides) if overrides else settings
        bot = await stack.enter_async_context(
            open_bot(
                local,
                db=db,
                plugins=plugins,
                engine=engine,
                with_engine=with_engine,
                with_reminders=with_reminders,
            )
        )
        console = ConsoleTransport(output=io.StringIO(), user_id=user_id, color=False)
        await start_transport(bot, console)
        return Chat(bot, console)

    async with stack:
        yield make
