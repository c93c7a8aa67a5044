"""The ``seqbot`` command as a user runs it: a fresh directory, environment variables, a shell."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The installed console script, as users run it; ``python -m bot`` where it is not installed.
SCRIPT = Path(sys.executable).with_name("seqbot")
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "bot"]


@pytest.fixture
def seqbot(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``seqbot ARGS`` in an empty directory with a private SQLite database."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")} | {
        "PYTHONPATH": str(ROOT),
        "SEQBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    }

    def run(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args],
            capture_output=True,
            text=True,
            input=input,
            cwd=tmp_path,
            env=base_env | env,
            timeout=120,
        )

    return run


def test_chat_command_answers_once_and_exits(seqbot) -> None:
    """The built-in tasks, loaded through their entry points as `seqbot chat` loads them."""
    result = seqbot("chat", "-c", "/help")
    assert result.returncode == 0, result.stderr
    assert "What I can do" in result.stdout
    assert "/settings" in result.stdout and "/forget" in result.stdout


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


def _closed_port() -> int:
    """A local port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_health_says_it_checked_only_the_database_without_a_heartbeat(seqbot) -> None:
    result = seqbot("health")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "healthy: database: ok; heartbeat: not configured (only the database was checked)"
    )


def test_health_checks_heartbeat_and_database(seqbot, tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    missing = seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat))
    assert _one_line_error(missing) == (
        f"unhealthy: database: ok; heartbeat: missing, no file at {beat} (is `seqbot run` running?)"
    )
    beat.touch()
    healthy = seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat))
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.startswith("healthy: database: ok; heartbeat: ok, last beat ")


def test_health_reports_an_old_heartbeat_as_stale(seqbot, tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    beat.touch()
    ten_minutes_ago = time.time() - 600
    os.utime(beat, (ten_minutes_ago, ten_minutes_ago))
    result = seqbot("health", SEQBOT_HEARTBEAT_FILE=str(beat))
    assert _one_line_error(result) == (
        "unhealthy: database: ok; heartbeat: stale, last beat 10 min ago (limit 90 s)"
    )


def test_health_names_an_unreachable_database(seqbot) -> None:
    url = f"postgresql+asyncpg://bot:db-password@127.0.0.1:{_closed_port()}/seqbot"
    line = _one_line_error(seqbot("health", SEQBOT_DATABASE_URL=url))
    assert line.startswith("unhealthy: database: unreachable at postgresql+asyncpg://bot:***@")
    assert line.endswith("heartbeat: not configured (only the database was checked)")


# ----- configuration errors: one line and a non-zero exit, whatever the command ---------------

BAD_SETTINGS = {
    "unsupported database": {"SEQBOT_DATABASE_URL": "mysql://bot@db/seqbot"},
    "not a URL": {"SEQBOT_DATABASE_URL": "nonsense"},
    "not a number": {"SEQBOT_ENGINE_MAX_BATCH": "abc"},
    "bad JSON": {"SEQBOT_TRANSLATION_MODELS": "{bad"},
    "bad list": {"SEQBOT_SLACK_ALLOWED_USERS": "U1,U2"},
    "bad time zone": {"SEQBOT_TIMEZONE": "Mars/Olympus"},
    "bad retry budget": {"SEQBOT_STARTUP_RETRY_SECONDS": "-5"},
    "unreachable database": {
        "SEQBOT_DATABASE_URL": "postgresql+asyncpg://bot:pw@127.0.0.1:{port}/x"
    },
}
COMMANDS = {
    "run": ["run"],
    "chat": ["chat", "-c", "/help"],
    "config": ["config"],
    "health": ["health"],
    "db upgrade": ["db", "upgrade"],
    "model pull": ["model", "pull", "google/flan-t5-small"],
}
#: Commands that never open the database, so an unreachable one is no error for them.
NO_DATABASE = {"config", "model pull"}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("problem", BAD_SETTINGS)
def test_configuration_errors_are_one_line(seqbot, problem: str, command: str) -> None:
    if problem == "unreachable database" and command in NO_DATABASE:
        pytest.skip(f"`seqbot {command}` does not use the database")
    port = _closed_port()
    env = {k: v.replace("{port}", str(port)) for k, v in BAD_SETTINGS[problem].items()}
    result = seqbot(
        *COMMANDS[command],
        # `run` needs a platform to get past "nothing configured"; it is never reached.
        SEQBOT_TELEGRAM_TOKEN="123456:TOKEN",
        SEQBOT_TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot",
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
        **env,
    )
    line = _one_line_error(result)
    assert line.startswith(("Invalid settings: SEQBOT_", "Cannot use the database", "unhealthy"))
    assert "pw@" not in line


def test_empty_token_is_unset_not_a_traceback(seqbot) -> None:
    """docker/env.example leaves the tokens empty: run explains what to set, no traceback."""
    result = seqbot("run", SEQBOT_TELEGRAM_TOKEN="", SEQBOT_SLACK_BOT_TOKEN="")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert _one_line_error(result).startswith("No chat platform is configured")


def test_sync_sqlite_url_is_accepted(seqbot, tmp_path: Path) -> None:
    result = seqbot("db", "upgrade", SEQBOT_DATABASE_URL=f"sqlite:///{tmp_path}/sync.db")
    assert result.returncode == 0, result.stderr
    assert f"sqlite+aiosqlite:///{tmp_path}/sync.db is at revision" in result.stdout


def test_model_pull_fails_in_one_line_when_the_hub_is_unreachable(seqbot) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    result = seqbot("model", "pull", "google/flan-t5-small", HF_ENDPOINT=endpoint)
    line = _one_line_error(result)
    assert line.startswith("error: cannot reach the Hugging Face hub at " + endpoint), line
