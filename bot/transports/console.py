"""Chatting with seqbot in a terminal, through the same core, storage and tasks as any platform.

The console is one private chat whose id is fixed ("console"), so history,
settings and pending dialogs survive restarts exactly as they do on Telegram.
Reminders due while ``seqbot chat`` runs are printed above the prompt.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from dataclasses import dataclass, field, replace
from typing import TextIO

from bot.formatting import PLAIN, MarkupStyle, render
from bot.messages import Address, ChatKind, IncomingMessage, Reply
from bot.transports.base import Receiver, Transport

CONSOLE_CHAT = "console"

_ANSI = MarkupStyle(
    escape=lambda s: s,
    bold=lambda s: f"\033[1m{s}\033[0m",
    code=lambda s: f"\033[36m{s}\033[0m",
    code_block=lambda s: f"\033[36m{s}\033[0m",
    link=lambda label, url: f"{label} <{url}>",
)
_PLAIN = replace(PLAIN, link=lambda label, url: f"{label} <{url}>")


@dataclass
class ConsoleTransport(Transport):
    """The terminal as a chat platform: one user, one private chat."""

    #: Where replies go; None means whatever ``sys.stdout`` is at the time of sending.
    output: TextIO | None = None
    user_id: str = field(default_factory=getpass.getuser)
    color: bool | None = None
    platform: str = "console"
    #: Every reply sent, in order, for scripts and tests that inspect the conversation.
    sent: list[tuple[Address, Reply]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.color is None:
            self.color = self._stream().isatty()
        self._bot: Receiver | None = None
        self._counter = 0

    def _stream(self) -> TextIO:
        # Looked up per send: the interactive prompt replaces sys.stdout with prompt_toolkit's
        # proxy, which prints above the prompt and redraws it, half-typed input included.
        return self.output if self.output is not None else sys.stdout

    async def start(self, bot: Receiver) -> None:
        self._bot = bot

    async def stop(self) -> None:
        self._bot = None

    async def send(
        self, address: Address, reply: Reply, *, reply_to: str | None = None
    ) -> str | None:
        self.sent.append((address, reply))
        text = render(reply.text, _ANSI if self.color else _PLAIN)
        if reply.buttons:
            text += "\n" + "  ".join(f"[{b.label}: /press {b.action}]" for b in reply.buttons)
        print(text, file=self._stream(), flush=True)
        self._counter += 1
        return f"out-{self._counter}"

    def message(self, text: str) -> IncomingMessage:
        """The incoming message for a line typed at the prompt.

        ``/press <action>`` stands in for clicking a button, since a terminal has none.
        """
        self._counter += 1
        action = None
        if text.startswith("/press "):
            action = text.removeprefix("/press ").strip()
        return IncomingMessage(
            platform=self.platform,
            chat_id=CONSOLE_CHAT,
            chat_kind=ChatKind.PRIVATE,
            user_id=self.user_id,
            user_name=self.user_id,
            text="" if action else text,
            message_id=f"in-{self._counter}",
            action=action,
        )

    async def say(self, text: str) -> list[Reply]:
        """Send one line as the user and return the replies it produced."""
        if self._bot is None:
            raise RuntimeError("the console transport is not started")
        before = len(self.sent)
        await self._bot.handle(self.message(text), self)
        return [reply for _, reply in self.sent[before:]]


async def interactive(
    transport: ConsoleTransport, *, prompt: str = "you> ", terminal: bool | None = None
) -> None:
    """Read lines until EOF or /quit; a terminal (stdin a TTY by default) gets line editing."""
    if sys.stdin.isatty() if terminal is None else terminal:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        session: PromptSession[str] = PromptSession()
        with patch_stdout(raw=True):
            while True:
                try:
                    line = await session.prompt_async(prompt)
                except (EOFError, KeyboardInterrupt):
                    return
                if not await _handle_line(transport, line):
                    return
    else:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if not await _handle_line(transport, line.rstrip("\n")):
                return


async def _handle_line(transport: ConsoleTransport, line: str) -> bool:
    if line.strip() in ("/quit", "/exit"):
        return False
    if line.strip():
        await transport.say(line)
    return True
