"""Small task plugins that exercise every part of the plugin API in the core tests."""

from __future__ import annotations

from bot.context import Context
from bot.errors import UsageError
from bot.messages import Button, Reply
from bot.plugins import Task, action, command, dialog_step


class Echo(Task):
    name = "echo"
    summary = "Repeat what you say."
    usage = "/echo <text>"

    @command("echo", "say")
    async def echo(self, ctx: Context, args: str) -> str:
        if not args:
            raise UsageError("Tell me what to repeat.")
        return args

    @command("boom", hidden=True)
    async def boom(self, ctx: Context, args: str) -> str:
        raise RuntimeError("secret internal detail")

    @command("pick")
    async def pick(self, ctx: Context, args: str) -> Reply:
        return Reply("Pick one", buttons=(Button("Red", self.action_id("chose", "red")),))

    @action("chose")
    async def chose(self, ctx: Context, payload: str) -> str:
        return f"You chose {payload}."

    @command("survey")
    async def survey(self, ctx: Context, args: str) -> None:
        await ctx.ask("What is your favourite colour?", step="colour", data={"asked_by": "survey"})

    @dialog_step("colour")
    async def colour(self, ctx: Context, text: str, data: dict[str, object]) -> str:
        return f"Noted: {text} (for {data['asked_by']})."


class Ask(Task):
    """Stands in for the Q&A task so free text has a default destination."""

    name = "fakeask"
    summary = "Answer free text."
    usage = "/ask <question>"

    @command("ask")
    async def ask(self, ctx: Context, args: str) -> str:
        return f"You asked: {args}"


class Slow(Task):
    """Waits for a gate, so tests can stop the bot while a reply is being written."""

    name = "slow"
    summary = "Answer when allowed."

    def __init__(self) -> None:
        import asyncio

        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    @command("slow")
    async def slow(self, ctx: Context, args: str) -> str:
        self.started.set()
        await self.gate.wait()
        return "finished"
