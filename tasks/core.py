"""Built-in commands every seqbot has: /start, /help, /settings, /forget."""

from __future__ import annotations

from bot.context import Context, Services
from bot.errors import UsageError, UserError
from bot.locale import language_name, parse_language, parse_timezone
from bot.messages import Reply
from bot.plugins import PluginRegistry, Task, command
from storage import knowledge
from storage.forget import Forgotten, forget_user_in_chat
from storage.people import set_user_setting

#: Entry ids named in the /forget reply; more are counted, not listed.
_IDS_SHOWN = 10


class CoreCommands(Task):
    name = "core"
    summary = "Help, your settings, and forgetting what I stored."
    usage = (
        "/help [task]: what I can do\n"
        "/settings: show your settings\n"
        "/settings timezone <zone>: e.g. Europe/Berlin\n"
        "/settings language <language>: e.g. de, German or Deutsch\n"
        "/settings reset: back to the defaults\n"
        "/forget: delete what I stored about you in this chat; your knowledge base entries "
        "stay, without your name\n"
        "/forget all: delete your knowledge base entries too\n"
        "/start: say hello and show where to begin"
    )

    async def setup(self, services: Services) -> None:
        self.plugins: PluginRegistry = services.plugins

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
        """Knowledge base entries stay, without the author, unless the user says ``all``:
        other members rely on them, while the rest of what is stored serves only the user."""
        scope = args.strip().lower()
        if scope not in ("", "all"):
            raise UsageError(
                "Send /forget, or /forget all to delete your knowledge base entries too."
            )
        user_id, chat_id, platform = ctx.user.id, ctx.user.chat_id, ctx.message.platform
        entries = knowledge.remove_entries_by if scope == "all" else knowledge.release_entries
        async with ctx.db.session() as session:
            gone = await forget_user_in_chat(
                session,
                user_id=user_id,
                chat_id=chat_id,
                platform=platform,
                chat_external_id=ctx.message.chat_id,
            )
            ids = await entries(session, user_id=user_id, chat_id=chat_id, platform=platform)
        removed, kept = (ids, []) if scope == "all" else ([], ids)
        # Not recorded, so nothing about the user is stored right after.
        await ctx.reply(_forgotten_reply(gone, removed, kept), record=False)

    @command("start")
    async def start(self, ctx: Context, args: str) -> str:
        return (
            f"Hi {ctx.user.display_name or 'there'}! I'm {ctx.settings.bot_name}. "
            "I answer questions, translate, summarize, read the mood of a chat and keep "
            "reminders. Send /help to see all commands."
        )


def _forgotten_reply(gone: Forgotten, removed: list[int], kept: list[int]) -> Reply:
    """Says what was deleted, and which knowledge base entries stayed without the user's name."""
    deleted = [_count(gone.messages, "message"), _count(gone.reminders, "reminder")]
    if removed:
        deleted.append(_count(len(removed), "knowledge base entry", "knowledge base entries"))
    text = f"Done. I deleted {_join(deleted)} of yours in this chat (including my replies to you)."
    if kept:
        ids = ", ".join(f"kb#{entry_id}" for entry_id in kept[:_IDS_SHOWN])
        if len(kept) > _IDS_SHOWN:
            ids += f" and {len(kept) - _IDS_SHOWN} more"
        text += (
            f" Your knowledge base {'entry' if len(kept) == 1 else 'entries'} {ids} "
            f"{'stays' if len(kept) == 1 else 'stay'} as shared knowledge, no longer under "
            "your name (/kb remove <id> deletes one)."
        )
    return Reply(text + " Your settings are kept; /settings reset clears them.")


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
