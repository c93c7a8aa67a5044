"""Connecting to the database and keeping its schema current.

One :class:`Database` per process owns the async engine and the session
factory. Startup calls :meth:`Database.upgrade`, which applies Alembic
migrations and refuses to run against a schema written by a newer seqbot.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.urls import async_url, mask_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be used; the message is one line, safe to print (password masked)."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """The async engine, session factory and schema management for one database URL."""

    def __init__(self, url: str, *, connect_args: dict[str, Any] | None = None) -> None:
        """Raises :class:`StorageError` for a URL seqbot cannot use (with the reason, masked)."""
        try:
            self.url = async_url(url)
            parsed = make_url(self.url)
            self.dialect = parsed.get_backend_name()
            if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                self.url, connect_args=connect_args or {}, pool_pre_ping=self.dialect != "sqlite"
            )
        except Exception as exc:
            raise StorageError(
                f"Cannot use the database at {mask_url(url)}: {_one_line(exc)}"
            ) from None
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        """Apply pending migrations; raise :class:`StorageError` if unreachable or too new."""
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade_sync)
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(
                f"Cannot use the database at {self.masked_url}: {_one_line(exc)}"
            ) from exc

    async def revision(self) -> str | None:
        """The applied revision(s); several heads (separate migration branches) joined by ", "."""
        async with self.engine.connect() as conn:
            heads = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
        return ", ".join(sorted(heads)) or None

    async def dispose(self) -> None:
        await self.engine.dispose()


#: The advisory lock PostgreSQL migrations take (any constant both workers agree on).
MIGRATION_LOCK = 0x5E9B07


def _upgrade_sync(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Workers starting together on an empty database would both create the tables;
        # the second waits here, then finds the schema current. Released at commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_heads()
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise StorageError(
            f"The database schema (revision {', '.join(unknown)}) is newer than this seqbot "
            f"knows; upgrade seqbot or point SEQBOT_DATABASE_URL at another database."
        )
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
