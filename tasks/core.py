"""Built-in commands every seqbot has: /start, /help, /settings, /forget."""

from __future__ import annotations

from bot.context import Context, Services
from bot.errors import UsageError, UserError
from bot.locale import language_name, parse_language, parse_timezone
from bot.messages import Reply
from bot.plugins import PluginRegistry, Task, command
from storage.forget import forget_user_in_chat
from storage.people import set_user_setting


class CoreCommands(Task):
    name = "core"
    summary = "Help, your settings, and forgetting what I stored."
    usage = (
        "/help [task]: what I can do\n"
        "/settings: show your settings\n"
        "/settings timezone <zone>: e.g. Europe/Berlin\n"
        "/settings language <language>: e.g. de, German or Deutsch\n"
        "/settings reset: back to the defaults\n"
        "/forget: delete what I stored about you in this chat"
    )

    async def setup(self, services: Services) -> None:
        self.plugins: PluginRegistry = services.plugins

    @command("start", hidden=True)
    async def start(self, ctx: Context, args: str) -> str:
        return (
            f"Hi {ctx.user.display_name or 'there'}! I'm {ctx.settings.bot_name}. "
            "I answer questions, translate, summarize, read the mood of a chat and keep "
            "reminders. Send /help to see all commands."
        )

    @command("help")
    async def help(self, ctx: Context, args: str) -> str:
        """The task list, or one task's usage; the usage strings double as help text."""
        wanted = args.strip().lstrip("/").lower()
        if wanted:
            task = self.plugins.tasks.get(wanted)
            if task is None and wanted in self.plugins.commands:
                task = self.plugins.commands[wanted].task
            if task is None:
                raise UserError(f"There is no task called {wanted!r}. Send /help for the list.")
            return f"**{task.name}**: {task.summary}\n{task.usage.strip()}"
        lines = ["**What I can do**"]
        for task in self.plugins.tasks.values():
            commands = [spec for spec in self.plugins.visible_commands() if spec.task is task]
            if not commands:
                continue
            names = ", ".join(f"/{spec.name}" for spec in commands)
            marker = " (needs the language model)" if task.needs_model else ""
            lines.append(f"- {names}: {task.summary}{marker}")
        lines.append("Send /help <task> for details, e.g. /help core.")
        return "\n".join(lines)

    @command("settings")
    async def settings(self, ctx: Context, args: str) -> str:
        key, _, value = args.strip().partition(" ")
        key = key.lower()
        if not key:
            zone = ctx.user.timezone + ("" if ctx.user.timezone_set else " (default)")
            return (
                "**Your settings**\n"
                f"- time zone: {zone}\n"
                f"- language: {language_name(ctx.user.language)} ({ctx.user.language})"
            )
        if key == "reset":
            async with ctx.db.session() as session:
                await set_user_setting(session, ctx.user.id, timezone=None, language=None)
            return "Your settings are back to the defaults."
        if key in ("timezone", "tz", "zone"):
            if not value.strip():
                raise UsageError("Which time zone? For example: /settings timezone Europe/Berlin")
            zone = parse_timezone(value)
            async with ctx.db.session() as session:
                await set_user_setting(session, ctx.user.id, timezone=zone)
            return f"Time zone set to {zone}."
        if key in ("language", "lang"):
            if not value.strip():
                raise UsageError("Which language? For example: /settings language de")
            code = parse_language(value)
            async with ctx.db.session() as session:
                await set_user_setting(session, ctx.user.id, language=code)
            return f"Language set to {language_name(code)} ({code})."
        raise UsageError(f"There is no setting called {key!r}.")

    @command("forget")
    async def forget(self, ctx: Context, args: str) -> None:
        async with ctx.db.session() as session:
            gone = await forget_user_in_chat(
                session,
                user_id=ctx.user.id,
                chat_id=ctx.user.chat_id,
                platform=ctx.message.platform,
                chat_external_id=ctx.message.chat_id,
            )
        # Sent without recording it, so nothing about the user is stored right after.
        await ctx.transport.send(
            ctx.address,
            _forgotten_reply(gone.messages, gone.reminders),
            reply_to=ctx.message.message_id,
        )


def _forgotten_reply(messages: int, reminders: int) -> Reply:
    return Reply(
        f"Done. I deleted {messages} message{'s' * (messages != 1)} and "
        f"{reminders} reminder{'s' * (reminders != 1)} of yours in this chat "
        "(including my replies to you). Your settings are kept; /settings reset clears them."
    )
