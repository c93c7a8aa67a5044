"""The ``seqbot`` command: run the bot, chat in the terminal, inspect config, plugins, db."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from bot.engine.cli import model_app
from bot.serving.serve_cli import engine_app
from bot.settings import ConfigError, Settings, describe_settings_error
from bot.train.cli import train_app

app = typer.Typer(
    help="seqbot: a chat bot for Telegram and Slack on one Seq2Seq engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")

app.add_typer(model_app, name="model", help="Download, inspect and try models.")
app.add_typer(engine_app, name="engine")
app.add_typer(train_app, name="train")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment and .env; invalid values end the command in one line."""
    from bot.settings import load_settings as load

    try:
        return load()
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _run_async(coro: object) -> None:
    from bot.transports.base import TransportStartError
    from storage.db import StorageError

    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except (StorageError, TransportStartError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


@app.command()
def run() -> None:
    """Start every configured platform (Telegram, Slack) and the reminder dispatcher."""
    from bot.app import configured_transports, open_bot, run_until_stopped
    from bot.logs import setup_logging
    from bot.transports.platforms import HINTS

    settings = load_settings()
    setup_logging(settings)
    transports = configured_transports(settings)
    if not transports:
        raise fail(HINTS, code=2)

    async def main() -> None:
        async with open_bot(settings) as bot:
            await run_until_stopped(bot, transports)

    _run_async(main())


@app.command()
def chat(
    command: Annotated[
        str | None, typer.Option("-c", "--command", help="Send one message, print the reply, exit.")
    ] = None,
) -> None:
    """Chat with seqbot in this terminal (history and settings are kept between runs)."""
    from bot.app import open_bot, start_transport
    from bot.logs import setup_logging
    from bot.transports.console import ConsoleTransport, interactive

    settings = load_settings()
    setup_logging(settings, level="WARNING")
    if command is None and sys.stdin.isatty():  # scripts and pipes are never asked anything
        from bot.model_offer import offer_default_model

        offer_default_model(settings)

    async def main() -> None:
        async with open_bot(settings, with_reminders=command is None) as bot:
            console = ConsoleTransport()
            await start_transport(bot, console)
            if command is not None:
                await console.say(command)
                return
            typer.echo(f"Chatting with {settings.bot_name}. /help lists commands, /quit ends.")
            await interactive(console)

    _run_async(main())


@app.command()
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    settings = load_settings()
    values = settings.effective()
    if as_json:
        typer.echo(json.dumps(values, indent=2, default=str))
        return
    width = max(len(name) for name in values)
    for name, value in values.items():
        typer.echo(f"SEQBOT_{name.upper():<{width}}  {value}")


@app.command()
def plugins() -> None:
    """List the task plugins found through entry points, and why any failed to load."""
    from bot.plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    for name, task in registry.tasks.items():
        commands = ", ".join(
            f"/{spec.name}" for spec in registry.visible_commands() if spec.task is task
        )
        typer.echo(f"ok      {name:<12} {commands:<30} {registry.sources[name]}")
    for failure in registry.failures:
        typer.echo(f"FAILED  {failure.entry_point:<12} {failure.target}: {failure.error}")
    if registry.failures:
        raise typer.Exit(1)


@app.command()
def health() -> None:
    """Exit 0 if the bot is healthy: database reachable and heartbeat fresh (if configured).

    One line says what was checked and what was found, for `docker inspect` and people.
    """
    import time

    settings = load_settings()
    database_ok, database = _check_database(settings)
    heartbeat_ok, heartbeat = _check_heartbeat(settings.heartbeat_file, time.time())
    if database_ok and heartbeat_ok:
        typer.echo(f"healthy: {database}; {heartbeat}")
        return
    raise fail(f"unhealthy: {database}; {heartbeat}")


#: The Docker health check gives up after 10 s; answer well before that.
HEALTH_DATABASE_TIMEOUT = 5.0


def _check_database(settings: Settings) -> tuple[bool, str]:
    from storage.db import Database, StorageError

    async def answers() -> None:
        db = Database(settings.database_url.get_secret_value())
        try:
            await asyncio.wait_for(db.revision(), HEALTH_DATABASE_TIMEOUT)
        finally:
            await db.dispose()

    try:
        asyncio.run(answers())
    except StorageError as exc:
        return False, f"database: {exc}"
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return False, f"database: unreachable at {settings.database_url_masked} ({reason})"
    return True, "database: ok"


def _check_heartbeat(heartbeat_file: str | None, now: float) -> tuple[bool, str]:
    from pathlib import Path

    from bot.app import HEARTBEAT_LIMIT, duration, heartbeat_age

    if not heartbeat_file:
        return True, "heartbeat: not configured (only the database was checked)"
    age = heartbeat_age(Path(heartbeat_file), now)
    if age is None:
        return False, f"heartbeat: missing, no file at {heartbeat_file} (is `seqbot run` running?)"
    if age >= HEARTBEAT_LIMIT:
        return False, (
            f"heartbeat: stale, last beat {duration(age)} ago (limit {duration(HEARTBEAT_LIMIT)})"
        )
    return True, f"heartbeat: ok, last beat {duration(age)} ago"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (also done at every start)."""
    from storage.db import Database

    settings = load_settings()

    async def main() -> None:
        db = Database(settings.database_url.get_secret_value())
        try:
            await db.upgrade()
            typer.echo(f"Database {db.masked_url} is at revision {await db.revision()}.")
        finally:
            await db.dispose()

    _run_async(main())


def main() -> None:
    """The ``seqbot`` console script: the commands, with no traceback for a bad configuration.

    Each command reports its own expected failures; this catches the settings
    problems of commands that read them on their own (``seqbot model …``).
    """
    from bot.transports.base import TransportStartError
    from storage.db import StorageError

    try:
        app(prog_name="seqbot")
    except ConfigError as exc:
        _exit_with(str(exc))
    except SettingsError as exc:
        _exit_with(describe_settings_error(exc))
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        _exit_with(describe_settings_error(exc))
    except (StorageError, TransportStartError) as exc:
        _exit_with(str(exc))


def _exit_with(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise SystemExit(1)
