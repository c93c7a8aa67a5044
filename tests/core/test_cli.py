"""The ``seqbot`` command as a user runs it: a fresh directory, environment variables, a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seqbot(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``seqbot ARGS`` in an empty directory with a private SQLite database."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")} | {
        "PYTHONPATH": str(ROOT),
        "SEQBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    }

    def run(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            input=input,
            cwd=tmp_path,
            env=base_env | env,
            timeout=120,
        )

    return run


def test_chat_command_answers_once_and_exits(seqbot) -> None:
    result = seqbot("chat", "-c", "/help")
    assert result.returncode == 0, result.stderr
    assert "What I can do" in result.stdout and "/settings" in result.stdout


def test_chat_keeps_settings_and_dialog_state_across_runs(seqbot) -> None:
    first = seqbot(
        "chat", input="/settings timezone Asia/Tokyo\n/settings language German\n/quit\n"
    )
    assert first.returncode == 0, first.stderr
    assert "Time zone set to Asia/Tokyo." in first.stdout
    second = seqbot("chat", "-c", "/settings")
    assert "Asia/Tokyo" in second.stdout and "German (de)" in second.stdout


def test_config_masks_secrets(seqbot) -> None:
    result = seqbot(
        "config",
        SEQBOT_TELEGRAM_TOKEN="123456:VERY-SECRET-TOKEN",
        SEQBOT_SLACK_SIGNING_SECRET="signing-secret-value",
        SEQBOT_DATABASE_URL="postgresql+asyncpg://bot:db-password@db.example/seqbot",
    )
    assert result.returncode == 0, result.stderr
    for secret in ("VERY-SECRET-TOKEN", "signing-secret-value", "db-password"):
        assert secret not in result.stdout
    assert "SEQBOT_TELEGRAM_TOKEN" in result.stdout and "********" in result.stdout
    assert "postgresql+asyncpg://bot:***@db.example/seqbot" in result.stdout


def test_unreachable_database_is_one_line_with_password_masked(seqbot) -> None:
    result = seqbot(
        "chat",
        "-c",
        "/help",
        SEQBOT_DATABASE_URL="postgresql+asyncpg://bot:db-password@127.0.0.1:1/seqbot",
    )
    assert result.returncode != 0
    assert "db-password" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Cannot use the database at postgresql+asyncpg://bot:***@127.0.0.1:1/seqbot"
    )


def test_invalid_setting_is_named(seqbot) -> None:
    result = seqbot("chat", "-c", "/help", SEQBOT_TIMEZONE="Mars/Olympus")
    assert result.returncode != 0
    assert result.stderr.strip().startswith("Invalid settings: SEQBOT_TIMEZONE:")
    assert "Unknown time zone 'Mars/Olympus'" in result.stderr


def test_run_without_platforms_explains_how_to_enable_them(seqbot) -> None:
    result = seqbot("run")
    assert result.returncode == 2
    assert "SEQBOT_TELEGRAM_TOKEN" in result.stderr and "seqbot chat" in result.stderr


def test_db_upgrade_reports_revision(seqbot) -> None:
    result = seqbot("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "is at revision" in result.stdout


def test_health_checks_heartbeat_and_database(seqbot, tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat)).returncode == 1
    beat.touch()
    healthy = seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat))
    assert healthy.returncode == 0 and healthy.stdout.strip() == "healthy"
    os.utime(beat, (0, 0))
    assert seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat)).returncode == 1
