"""Small tasks for the Slack tests: an echo, a gated (slow) task, and one with buttons."""

from __future__ import annotations

import asyncio

from bot.context import Context
from bot.messages import Button, Reply
from bot.plugins import Task, action, command


class Echo(Task):
    name = "echo"
    summary = "Repeat what you say."
    usage = "/echo <text>"

    @command("echo")
    async def echo(self, ctx: Context, args: str) -> str:
        return args or "(nothing)"

    @command("whisper")
    async def whisper(self, ctx: Context, args: str) -> Reply:
        return Reply(f"psst: {args}", private=True)

    @command("pick")
    async def pick(self, ctx: Context, args: str) -> Reply:
        buttons = (
            Button("Red", self.action_id("chose", "red")),
            Button("Blue", self.action_id("chose", "blue")),
        )
        return Reply("Pick a colour", buttons=buttons)

    @action("chose")
    async def chose(self, ctx: Context, payload: str) -> str:
        return f"You chose {payload}."


class Gated(Task):
    """Answers only when the test opens the gate, so "before it finishes" needs no clock."""

    name = "gated"
    summary = "Answer when allowed."

    def __init__(self, *, needs_model: bool) -> None:
        self.needs_model = needs_model  # type: ignore[misc]
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.finished = asyncio.Event()

    @command("think")
    async def think(self, ctx: Context, args: str) -> str:
        self.started.set()
        await self.gate.wait()
        self.finished.set()
        return f"**Thought** about {args}"
