"""The interactive console as a terminal shows it: a prompt, half-typed input, a reminder.

prompt_toolkit reads keys from a pipe and draws into a VT100 stream that pyte turns back
into the screen a user would see, so the checks are about lines on the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pyte
import pytest
from prompt_toolkit.application import get_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from bot.app import open_bot, start_transport
from bot.transports.console import ConsoleTransport, interactive
from tasks.reminders import Reminders
from tests.fixtures.tasks import registry

COLUMNS, ROWS = 80, 24
HALF_TYPED = "you> /remind lis"


class Terminal(io.TextIOBase):
    """A text stream drawn onto a pyte screen: what the user would see in a terminal."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.screen.set_mode(pyte.modes.LNM)  # "\n" starts a new line, as a tty's ONLCR makes it
        self._stream = pyte.Stream(self.screen)

    def write(self, data: str) -> int:
        self._stream.feed(data)
        return len(data)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display if line.strip()]


@contextlib.contextmanager
def terminal_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Terminal, Callable]]:
    """A terminal that is both sys.stdout and prompt_toolkit's output, keys from a pipe.

    The default app session is re-pointed rather than a new one created, because
    patch_stdout's writer thread (as in the real program) only sees the default session.
    """
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    output = Vt100_Output(terminal, lambda: Size(rows=ROWS, columns=COLUMNS), term="xterm")
    with create_pipe_input() as keys:
        session = get_app_session()
        monkeypatch.setattr(session, "_input", keys)
        monkeypatch.setattr(session, "_output", output)
        yield terminal, keys.send_text


async def wait_for(terminal: Terminal, condition: Callable[[list[str]], bool], what: str) -> None:
    """Poll the screen until ``condition(lines)`` holds; fail with the screen after 20 s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 20.0
    while not condition(terminal.lines()):
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}; screen: {terminal.lines()}")
        await asyncio.sleep(0.02)


class Clock:
    """The dispatcher's "now", moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_due_reminder_prints_above_the_prompt_and_keeps_half_typed_input(
    db, settings, monkeypatch
) -> None:
    plugins = registry(Reminders())
    clock = Clock()
    with terminal_session(monkeypatch) as (terminal, type_keys):
        async with open_bot(settings, db=db, plugins=plugins, with_engine=False) as bot:
            scheduler = bot.services.reminders
            scheduler.clock = clock
            console = ConsoleTransport(user_id="alice")  # as `seqbot chat` builds it
            await start_transport(bot, console)
            chat = asyncio.create_task(interactive(console, terminal=True))
            try:
                type_keys("/remind me in 10 minutes to stretch\r")
                await wait_for(terminal, lambda lines: lines[-1:] == ["you>"], "the confirmation")
                type_keys("/remind lis")
                await wait_for(terminal, lambda lines: lines[-1:] == [HALF_TYPED], "typing")

                clock.now += timedelta(minutes=10)
                scheduler.wake()
                await wait_for(terminal, lambda lines: "⏰ stretch" in lines, "the reminder")
                await wait_for(terminal, lambda lines: lines[-1:] == [HALF_TYPED], "the prompt")
                lines = terminal.lines()
                # On a line of its own above the prompt, which is drawn again below it.
                assert lines.index("⏰ stretch") < lines.index(HALF_TYPED), lines

                type_keys("t\r")  # the half-typed command goes on where it was
                await wait_for(terminal, lambda lines: "you> /remind list" in lines, "the list")
                type_keys("/quit\r")
                await asyncio.wait_for(chat, 20)
            finally:
                chat.cancel()
