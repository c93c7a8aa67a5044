"""Settings as a first-time user writes them: empty lines, sync URLs, awkward passwords."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.app import configured_transports
from bot.logs import secret_values
from bot.settings import ConfigError, Settings, load_settings
from storage.db import Database


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment without the developer's SEQBOT_* variables, in a directory without .env."""
    import os

    for name in list(os.environ):
        if name.startswith("SEQBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_empty_values_count_as_unset(env: pytest.MonkeyPatch) -> None:
    """docker/env.example ships `SEQBOT_TELEGRAM_TOKEN=` and `SEQBOT_SLACK_BOT_TOKEN=` empty."""
    for name in ("TELEGRAM_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TIMEZONE"):
        env.setenv(f"SEQBOT_{name}", "")
    env.setenv("SEQBOT_TRANSLATION_MODELS", "")
    env.setenv("SEQBOT_HEARTBEAT_FILE", "  ")
    settings = load_settings()
    assert settings.telegram_token is None and settings.slack_bot_token is None
    assert settings.slack_signing_secret is None and settings.heartbeat_file is None
    assert settings.timezone == "UTC" and settings.translation_models == {}
    assert configured_transports(settings) == []


def test_empty_values_in_the_env_file_count_as_unset(env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("SEQBOT_TELEGRAM_TOKEN=\nSEQBOT_SLACK_BOT_TOKEN=\nSEQBOT_MODEL=\n")
    settings = load_settings()
    assert settings.telegram_token is None and settings.slack_bot_token is None
    assert settings.model == "google/flan-t5-small"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+pysqlite:////data/x.db", "sqlite+aiosqlite:////data/x.db"),
        ("postgresql://bot:pw@db:5432/seqbot", "postgresql+asyncpg://bot:pw@db:5432/seqbot"),
        ("postgres://bot:pw@db/seqbot", "postgresql+asyncpg://bot:pw@db/seqbot"),
        ("postgresql+psycopg2://bot@db/seqbot", "postgresql+asyncpg://bot@db/seqbot"),
        ("postgresql+psycopg://bot@db/seqbot", "postgresql+asyncpg://bot@db/seqbot"),
    ],
)
def test_sync_database_urls_use_the_async_driver(given: str, used: str) -> None:
    settings = Settings(_env_file=None, database_url=given)
    assert settings.database_url.get_secret_value() == used
    assert settings.startup_notes == [
        f"SEQBOT_DATABASE_URL names the {make_url(given).drivername} driver; "
        f"seqbot connects with {make_url(used).drivername} instead"
    ]


def test_async_database_urls_are_used_as_given() -> None:
    url = "postgresql+asyncpg://bot:pw@db/seqbot"
    settings = Settings(_env_file=None, database_url=url)
    assert settings.database_url.get_secret_value() == url and settings.startup_notes == []


@pytest.mark.parametrize(
    "url", ["mysql://bot@db/seqbot", "oracle+oracledb://db/x", "mssql+pyodbc://db/x", "nonsense"]
)
def test_unsupported_databases_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, database_url=url)
    message = str(caught.value)
    assert message.startswith("Invalid settings: SEQBOT_DATABASE_URL: ")
    assert "\n" not in message and "sqlite+aiosqlite" in message


def test_a_sync_url_opens_the_database(tmp_path: Path) -> None:
    """Database() itself accepts the sync spelling too (tests and tools build it directly)."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    assert db.engine.url.drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize("password", ["p@ss/w:rd", "a b%c?d#e", "plain"])
def test_database_password_is_quoted_into_the_url(password: str) -> None:
    """compose sets the password apart from the URL, so `@`, `/` and `:` cannot break it."""
    settings = Settings(
        _env_file=None,
        database_url="postgresql://seqbot@db:5432/seqbot",
        database_password=password,
    )
    url = make_url(settings.database_url.get_secret_value())
    assert (url.drivername, url.username, url.password) == (
        "postgresql+asyncpg",
        "seqbot",
        password,
    )
    assert (url.host, url.port, url.database) == ("db", 5432, "seqbot")
    assert password not in settings.database_url_masked
    assert password in secret_values(settings)
    assert password not in str(settings.effective())


def test_database_password_replaces_one_in_the_url() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql+asyncpg://seqbot:old@db/seqbot",
        database_password="new",
    )
    assert make_url(settings.database_url.get_secret_value()).password == "new"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SEQBOT_TRANSLATION_MODELS", "{bad", "SEQBOT_TRANSLATION_MODELS: not valid JSON"),
        ("SEQBOT_SLACK_ALLOWED_USERS", "U1,U2", "SEQBOT_SLACK_ALLOWED_USERS: not valid JSON"),
        ("SEQBOT_ENGINE_MAX_BATCH", "abc", "SEQBOT_ENGINE_MAX_BATCH: Input should be a valid"),
        ("SEQBOT_STARTUP_RETRY_SECONDS", "-1", "SEQBOT_STARTUP_RETRY_SECONDS: Input should be"),
        ("SEQBOT_TIMEZONE", "Mars/Olympus", "SEQBOT_TIMEZONE: Unknown time zone"),
    ],
)
def test_invalid_values_are_one_line_naming_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"Invalid settings: {expected}"), message
    assert "\n" not in message


def test_an_unreadable_env_file_is_one_line(env: pytest.MonkeyPatch) -> None:
    Path(".env").write_bytes(b"SEQBOT_MODEL=\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"^Cannot read \.env: ") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_startup_notes_are_logged_when_the_bot_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from bot.app import open_bot
    from bot.plugins import PluginRegistry

    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'x.db'}")

    async def open_and_close() -> None:
        async with open_bot(
            settings, plugins=PluginRegistry(), with_engine=False, with_reminders=False
        ):
            pass

    with caplog.at_level(logging.INFO, logger="bot.app"):
        asyncio.run(open_and_close())
    assert [r.getMessage() for r in caplog.records if "driver" in r.getMessage()] == [
        "SEQBOT_DATABASE_URL names the sqlite driver; seqbot connects with sqlite+aiosqlite instead"
    ]
