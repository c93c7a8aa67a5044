"""``/ask`` (and free text in a private chat): answers grounded in what the chat knows.

Sources are tried in order: the chat's knowledge base (full-text search in the
database), then the recent conversation of the chat, then the model alone;
the reply always says which one it used, so nobody mistakes a guess of the
model for something the team wrote down. A follow-up question sees the same
user's previous question and answer in this chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.engine.options import GenerationOptions
from bot.plugins import Task, command
from storage import history, knowledge
from storage.models import utcnow
from tasks._engine_tasks import (
    TaskEngine,
    get_engine,
    input_text,
    is_command,
    output_budget,
    prompt,
    too_long,
    truncate,
)

PROMPTS = {
    "ask.knowledge": (
        "Answer the question using the notes below.\n\nNotes:\n{context}\n\n"
        "{previous}Question: {question}"
    ),
    "ask.conversation": (
        "Answer the question using this conversation.\n\nConversation:\n{context}\n\n"
        "{previous}Question: {question}"
    ),
    "ask.model": "{previous}Answer the question.\n\nQuestion: {question}",
    "ask.previous": "Previous question: {question}\nPrevious answer: {answer}\n\n",
}

SOURCE_PREFIX = "Source: "
MODEL_ALONE = (
    "(Answered by the model alone: nothing in this chat's knowledge base or recent "
    "conversation matched.)"
)
#: How many knowledge passages and conversation lines may go into one prompt.
MAX_PASSAGES = 3
MAX_CONVERSATION_LINES = 12
#: A follow-up must come within this time of the previous answer to be linked to it.
FOLLOW_UP_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class Exchange:
    question: str
    answer: str


class Ask(Task):
    name = "ask"
    summary = "Answer questions from this chat's knowledge base and conversation."
    usage = "/ask <question>\nIn a private chat, just type the question."
    needs_model = True

    @command("ask")
    async def ask(self, ctx: Context, args: str) -> str:
        question = input_text(ctx, args, what="a question")
        async with ctx.working():
            engine = await get_engine(ctx)
            if engine.count_tokens(question) > engine.max_source_tokens // 2:
                raise too_long(engine.count_tokens(question), engine.max_source_tokens // 2)
            async with ctx.db.session() as session:
                mine = await history.recent(
                    session,
                    chat_id=ctx.user.chat_id,
                    user_id=ctx.user.id,
                    limit=8,
                    since=utcnow() - FOLLOW_UP_WINDOW,
                )
                previous = previous_exchange(mine[:-1] if _is_current(mine, ctx) else mine)
                hits = await self._search(ctx, session, question)
                if not hits and previous is not None:
                    # "and on weekends?" names nothing; the question it follows does.
                    hits = await self._search(ctx, session, f"{previous.question} {question}")
                chat = await history.recent(session, chat_id=ctx.user.chat_id, limit=60)
            previous_text = ""
            if previous is not None:
                # A sixth of the prompt each at most, so the sources still fit beside them.
                share = engine.max_source_tokens // 6
                previous_text = prompt(
                    ctx,
                    "ask.previous",
                    PROMPTS,
                    question=truncate(engine, previous.question, share),
                    answer=truncate(engine, previous.answer, share),
                )
            if hits:
                key, items = "ask.knowledge", [hit.text for hit in hits]
            else:
                items = relevant_lines(chat[:-1] if _is_current(chat, ctx) else chat, question)
                key = "ask.conversation" if items else "ask.model"
            key, text, used = _fit(ctx, engine, key, question, previous_text, items)
            result = await engine.generate(
                text, GenerationOptions(max_new_tokens=output_budget(engine, 128))
            )
        answer = result.text.strip() or "I could not come up with an answer."
        if key == "ask.knowledge":
            cited = dict.fromkeys(hit.entry_id for hit in hits[:used])
            source = SOURCE_PREFIX + ", ".join(f"kb#{entry_id}" for entry_id in cited)
        elif key == "ask.conversation":
            source = SOURCE_PREFIX + "the recent conversation in this chat."
        else:
            source = MODEL_ALONE
        return f"{answer}\n\n{source}"

    async def _search(
        self, ctx: Context, session: AsyncSession, query: str
    ) -> list[knowledge.PassageHit]:
        return await knowledge.search(
            session,
            chat_id=ctx.user.chat_id,
            platform=ctx.message.platform,
            query=query,
            limit=MAX_PASSAGES,
        )


def _is_current(messages: list[history.StoredMessage], ctx: Context) -> bool:
    """Whether the newest stored message is the one being answered (the core stores it first)."""
    return bool(messages) and not messages[-1].from_bot and messages[-1].user_id == ctx.user.id


def previous_exchange(messages: list[history.StoredMessage]) -> Exchange | None:
    """The user's last question and the bot's answer to it, from their history oldest first."""
    for i in range(len(messages) - 1, 0, -1):
        answer, asked = messages[i], messages[i - 1]
        if not answer.from_bot or asked.from_bot:
            continue
        question = asked.text.strip()
        if question.lower().startswith("/ask"):
            question = question[4:].strip()
        elif is_command(question):
            return None  # the last thing they did was another command, not a question
        if not question:
            return None
        return Exchange(question, _without_source(answer.text))
    return None


def _without_source(answer: str) -> str:
    lines = answer.strip().splitlines()
    while lines and (
        lines[-1].startswith(SOURCE_PREFIX) or lines[-1] == MODEL_ALONE or not lines[-1].strip()
    ):
        lines.pop()
    return "\n".join(lines)


def relevant_lines(messages: list[history.StoredMessage], question: str) -> list[str]:
    """Recent people's messages sharing a meaningful word with the question, as "Name: text"."""
    terms = set(knowledge.search_terms(question))
    if not terms:
        return []
    found = []
    for message in messages:
        if message.from_bot or is_command(message.text):
            continue
        if terms & set(knowledge.search_terms(message.text, max_terms=200)):
            found.append(f"{message.author_name or 'someone'}: {message.text.strip()}")
    return found[-MAX_CONVERSATION_LINES:]


def _fit(
    ctx: Context, engine: TaskEngine, key: str, question: str, previous: str, items: list[str]
) -> tuple[str, str, int]:
    """The prompt with as many context items as fit; returns (template key, prompt, items used).

    Knowledge passages come best first, so they are kept from the front;
    conversation lines are oldest first, so the newest are kept.
    """
    limit = engine.max_source_tokens
    for prev in (previous, ""):  # the follow-up context goes first when space is short
        for count in range(len(items), -1, -1):
            chosen = items[:count] if key == "ask.knowledge" else items[len(items) - count :]
            text = prompt(
                ctx, key, PROMPTS, context="\n".join(chosen), previous=prev, question=question
            )
            if engine.count_tokens(text) <= limit and (count or not items):
                return key, text, count
    base = prompt(ctx, "ask.model", PROMPTS, previous="", question=question)
    if engine.count_tokens(base) > limit:
        raise too_long(engine.count_tokens(base), limit)
    return "ask.model", base, 0
