"""``/kb``: the chat's knowledge base that ``/ask`` answers from.

Entries are plain text a user adds (typed, by replying to a message, or as a
.txt, .md or .pdf file, read by :mod:`tasks._documents`);
they are split into passages of a few sentences so that retrieval puts only
the relevant part into the model's prompt. The task itself needs no model,
so the knowledge base stays usable when the model is missing.
"""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.errors import UsageError, UserError
from bot.formatting import split_text
from bot.messages import ChatKind
from bot.plugins import Task, command, dialog_step
from storage import knowledge
from tasks._documents import ACCEPTED, MAX_FILE_BYTES, document_text
from tasks._numbers import parse_id

#: Characters per passage: a few sentences, small enough that three fit one prompt.
PASSAGE_CHARS = 500
WORKSPACE_FLAG = "--workspace"
#: Characters of an entry shown per line of ``/kb list``, and of a passage per ``/kb search`` hit.
LIST_PREVIEW = 80
SEARCH_PREVIEW = 200
#: Asked in a private chat after a bare ``/kb add``; the next message (text or file) answers.
ASK_FOR_TEXT = (
    f"What should I add? Send the text, or a {ACCEPTED} file "
    f"(up to {MAX_FILE_BYTES // (1024 * 1024)} MB)."
)


def preview(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with "…" when it is longer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def passages_of(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """Split an entry on paragraph, line and sentence boundaries into retrievable passages."""
    return split_text(text, size) or [text]


def is_kb_admin(ctx: Context) -> bool:
    """Whether the sender may add and remove workspace-wide entries.

    ``settings.kb_admins`` lists platform user ids, optionally as ``platform:id``.
    """
    admins = ctx.settings.kb_admins
    ids = {ctx.message.user_id, f"{ctx.message.platform}:{ctx.message.user_id}"}
    return any(admin in ids for admin in admins)


class KnowledgeBase(Task):
    name = "knowledge"
    summary = "This chat's knowledge base, which /ask answers from."
    usage = (
        "/kb add <text>: remember a text (or reply to a message with /kb add)\n"
        "/kb add as the caption of a .txt, .md or .pdf file: remember the file's text\n"
        "/kb add --workspace <text>: for every chat (admins only)\n"
        "/kb list: what is stored\n"
        "/kb search <words>: find passages\n"
        "/kb remove <id>: delete an entry, e.g. /kb remove 12"
    )
    needs_model = False

    @command("kb", "knowledge")
    async def kb(self, ctx: Context, args: str) -> str:
        action, _, rest = args.strip().partition(" ")
        action = action.lower()
        if action in ("add", "new"):
            return await self._add(ctx, rest)
        if action in ("list", "ls", ""):
            return await self._list(ctx)
        if action in ("remove", "rm", "delete", "del"):
            return await self._remove(ctx, rest)
        if action in ("search", "find"):
            return await self._search(ctx, rest)
        raise UsageError(f"I don't know /kb {action}.")

    async def _add(self, ctx: Context, rest: str) -> str | None:
        workspace = False
        words = rest.split(maxsplit=1)
        if words and words[0].lower() == WORKSPACE_FLAG:
            workspace = True
            rest = words[1] if len(words) > 1 else ""
            if not is_kb_admin(ctx):
                raise UserError("Only knowledge base admins can add workspace-wide entries.")
        quoted = ctx.message.reply_to
        if ctx.message.attachments or (quoted is not None and quoted.attachments):
            return await self._add_file(ctx, workspace)
        text = rest.strip()
        if not text:
            if quoted is None:
                if ctx.message.chat_kind == ChatKind.PRIVATE:
                    await ctx.ask(ASK_FOR_TEXT, step="add", data={"workspace": workspace})
                    return None
                raise UsageError("Give me the text to remember, or reply to a message.")
            text = (quoted.text or "").strip()
            if not text:
                raise UserError("The message you replied to has no text I can store.")
        return await self._store(ctx, text, passages_of(text), workspace=workspace)

    @dialog_step("add")
    async def add_answer(self, ctx: Context, text: str, data: dict[str, Any]) -> str:
        """The answer to "what should I add?": a text, or a file sent on its own."""
        workspace = bool(data.get("workspace"))
        if ctx.message.attachments:
            return await self._add_file(ctx, workspace)
        if not text.strip():
            raise UserError(
                f"There was nothing to add; send /kb add with a text or a {ACCEPTED} file."
            )
        return await self._store(ctx, text.strip(), passages_of(text.strip()), workspace=workspace)

    async def _add_file(self, ctx: Context, workspace: bool) -> str:
        """The first file sent (else the replied-to message's), passage by passage, each
        marked with the file name.

        The entries table has no source column, so the name leads the entry and
        every passage: ``/kb list``, ``/kb search`` and /ask's prompt all show
        where a passage came from.
        """
        quoted = ctx.message.reply_to
        files = ctx.message.attachments or (quoted.attachments if quoted else ())
        attachment = files[0]
        text = await document_text(attachment)
        label = f"[{attachment.name}]"
        passages = [f"{label} {passage}" for passage in passages_of(text)]
        return await self._store(
            ctx, f"{label}\n{text}", passages, workspace=workspace, name=attachment.name
        )

    async def _store(
        self,
        ctx: Context,
        text: str,
        passages: list[str],
        *,
        workspace: bool,
        name: str | None = None,
    ) -> str:
        """Store one entry (typed, quoted or from the file ``name``) within the chat's limit."""
        limit = ctx.settings.kb_max_entries
        async with ctx.db.session() as session:
            if (
                await knowledge.count_entries(
                    session, chat_id=ctx.user.chat_id, platform=ctx.message.platform
                )
                >= limit
            ):
                raise UserError(
                    f"This knowledge base is full ({limit} entries); remove some with /kb remove."
                )
            entry_id = await knowledge.add_entry(
                session,
                chat_id=None if workspace else ctx.user.chat_id,
                platform=ctx.message.platform,
                user_id=ctx.user.id,
                author_name=ctx.user.display_name,
                text=text,
                passages=passages,
            )
        scope = "for every chat" if workspace else "for this chat"
        parts = f" in {len(passages)} passages" if len(passages) > 1 else ""
        what = f"{name} " if name else ""
        return f"Saved {what}as `kb#{entry_id}` {scope}{parts}. /ask questions can now use it."

    async def _list(self, ctx: Context) -> str:
        async with ctx.db.session() as session:
            entries = await knowledge.list_entries(
                session, chat_id=ctx.user.chat_id, platform=ctx.message.platform
            )
            total = await knowledge.count_entries(
                session, chat_id=ctx.user.chat_id, platform=ctx.message.platform
            )
        if not entries:
            return "The knowledge base is empty. Add something with /kb add <text>."
        lines = [f"**Knowledge base** ({total} entr{'y' if total == 1 else 'ies'})"]
        for entry in entries:
            where = " (all chats)" if entry.workspace else ""
            lines.append(f"- `kb#{entry.id}`{where}: {preview(entry.text, LIST_PREVIEW)}")
        if total > len(entries):
            lines.append(f"…and {total - len(entries)} older ones.")
        return "\n".join(lines)

    async def _remove(self, ctx: Context, rest: str) -> str:
        entry_id = parse_id(
            rest.strip().lower().removeprefix("kb#"),
            usage="Which entry? Give its number, e.g. /kb remove 12.",
            missing="There is no entry kb#{id} here; /kb list shows them.",
        )
        async with ctx.db.session() as session:
            entry = await knowledge.get_entry(
                session, entry_id=entry_id, chat_id=ctx.user.chat_id, platform=ctx.message.platform
            )
            if entry is None:
                raise UserError(f"There is no entry kb#{entry_id} here; /kb list shows them.")
            admin = is_kb_admin(ctx)
            if entry.chat_id is None and not admin:
                raise UserError("Only knowledge base admins can remove workspace-wide entries.")
            if entry.user_id not in (None, ctx.user.id) and not admin:
                raise UserError(f"kb#{entry_id} was added by {entry.author_name}; ask them.")
            await knowledge.remove_entry(session, entry_id=entry_id)
        return f"Removed `kb#{entry_id}`."

    async def _search(self, ctx: Context, rest: str) -> str:
        if not rest.strip():
            raise UsageError("What should I look for? e.g. /kb search opening hours")
        async with ctx.db.session() as session:
            hits = await knowledge.search(
                session,
                chat_id=ctx.user.chat_id,
                platform=ctx.message.platform,
                query=rest,
                limit=5,
            )
        if not hits:
            return f"Nothing in the knowledge base matches {rest.strip()!r}."
        lines = [f"**Found {len(hits)} passage{'s' * (len(hits) != 1)}**"]
        lines += [f"- `kb#{hit.entry_id}`: {preview(hit.text, SEARCH_PREVIEW)}" for hit in hits]
        return "\n".join(lines)
