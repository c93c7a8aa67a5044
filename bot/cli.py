"""The ``seqbot`` command: run the bot, chat in the terminal, inspect config, plugins, db."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from pydantic import ValidationError

from bot.settings import Settings

app = typer.Typer(
    help="seqbot: a chat bot for Telegram and Slack on one Seq2Seq engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")

try:
    from bot.engine.cli import model_app
except ImportError:  # pragma: no cover - the engine package is part of seqbot
    model_app = None
if model_app is not None:
    app.add_typer(model_app, name="model", help="Download, inspect and try models.")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment and .env; invalid values end the command in one line each."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SEQBOT_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise fail(f"Invalid settings: {problems}") from None


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

    async def main() -> None:
        async with open_bot(settings, with_scheduler=command is None) as bot:
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
    """Exit 0 if the bot is healthy: heartbeat fresh (if configured) and database reachable."""
    import time
    from pathlib import Path

    from bot.app import heartbeat_fresh
    from storage.db import Database

    settings = load_settings()
    if settings.heartbeat_file and not heartbeat_fresh(Path(settings.heartbeat_file), time.time()):
        raise fail(f"unhealthy: no heartbeat in {settings.heartbeat_file}")

    async def main() -> None:
        db = Database(settings.database_url.get_secret_value())
        try:
            await db.revision()
        except Exception as exc:
            raise StorageError(f"unhealthy: database {db.masked_url} unreachable") from exc
        finally:
            await db.dispose()

    from storage.db import StorageError

    _run_async(main())
    typer.echo("healthy")


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


def main() -> None:  # pragma: no cover - console script entry
    app()
