"""A scripted engine with the real engine's interface, and chat helpers for the language tasks.

The fake engine records every prompt it receives and every call it gets,
so tests can assert on routing, chunking and batching; its answers are
scripted where a test depends on wording. Tokens are whitespace-separated
words, which keeps token budgets easy to reason about in assertions.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from bot.engine import EngineBusy, GenerationOptions, GenerationResult, ScoreResult
from bot.messages import ChatKind, IncomingMessage, QuotedMessage
from bot.plugins import PluginRegistry
from storage import history
from storage.db import Database
from storage.people import chat_for, user_for
from tasks.ask import Ask
from tasks.core import CoreCommands
from tasks.knowledge import KnowledgeBase
from tasks.sentiment import Sentiment
from tasks.summarize import Summarize
from tasks.translate import Translate


@dataclass
class Call:
    kind: str  # "generate", "generate_batch" or "score"
    prompts: list[str]
    options: GenerationOptions | None = None


@dataclass
class FakeEngine:
    """Answers with ``answer(prompt)``; scores with ``score_of(source, candidate)``."""

    name: str = "fake-flan"
    max_source_tokens: int = 512
    languages: frozenset[str] = frozenset()
    max_target_tokens: int = 512
    answer: Callable[[str], str] = lambda prompt: "scripted answer"
    score_of: Callable[[str, str], float] = lambda source, candidate: 0.0
    calls: list[Call] = field(default_factory=list)
    #: Score requests started and finished, and the most running at the same time.
    score_started: int = 0
    score_finished: int = 0
    max_concurrent_scores: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1  # + the end-of-sequence token, like a real tokenizer

    def _result(self, prompt: str) -> GenerationResult:
        text = self.answer(prompt)
        return GenerationResult(text, list(range(len(text.split()))), False, "eos")

    async def generate(
        self, text: str, options: GenerationOptions | None = None
    ) -> GenerationResult:
        self.calls.append(Call("generate", [text], options))
        await asyncio.sleep(0)
        return self._result(text)

    async def generate_batch(
        self, texts: list[str], options: GenerationOptions | None = None
    ) -> list[GenerationResult]:
        self.calls.append(Call("generate_batch", list(texts), options))
        await asyncio.sleep(0)
        return [self._result(t) for t in texts]

    async def score(self, source: str, candidates: list[str]) -> list[ScoreResult]:
        self.calls.append(Call("score", [source]))
        self.score_started += 1
        self.max_concurrent_scores = max(
            self.max_concurrent_scores, self.score_started - self.score_finished
        )
        await asyncio.sleep(0)  # a real engine answers from its worker thread, later
        self.score_finished += 1
        return [ScoreResult(self.score_of(source, c), []) for c in candidates]

    def prompts(self, kind: str | None = None) -> list[str]:
        return [p for c in self.calls if kind in (None, c.kind) for p in c.prompts]

    def kinds(self) -> list[str]:
        return [c.kind for c in self.calls]


@dataclass
class QueueLimitedEngine(FakeEngine):
    """Refuses requests past ``max_queue`` waiting, as the real engine does, and says its limits."""

    max_batch: int = 32
    max_queue: int = 2
    waiting: int = 0
    most_waiting: int = 0

    def stats(self) -> dict[str, int]:
        return {"max_batch": self.max_batch, "max_queue": self.max_queue, "queue_depth": 0}

    async def generate_batch(self, texts, options=None):  # type: ignore[no-untyped-def]
        if self.waiting + len(texts) > self.max_queue:
            raise EngineBusy()
        self.waiting += len(texts)
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            return await super().generate_batch(texts, options)
        finally:
            self.waiting -= len(texts)


@dataclass
class FakePool:
    """``bot.engine.EnginePool``'s ``get``: engines by model name, or an error to raise."""

    default: FakeEngine = field(default_factory=FakeEngine)
    others: dict[str, FakeEngine] = field(default_factory=dict)
    error: Exception | None = None
    requested: list[str | None] = field(default_factory=list)

    async def get(self, model: str | None = None) -> FakeEngine:
        self.requested.append(model)
        if self.error is not None:
            raise self.error
        return self.others[model] if model else self.default


def language_tasks() -> PluginRegistry:
    """The core commands and every language task, as the entry points register them."""
    reg = PluginRegistry()
    for task in (CoreCommands(), Ask(), KnowledgeBase(), Translate(), Summarize(), Sentiment()):
        reg.add(task)
    return reg


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def pool(engine: FakeEngine) -> FakePool:
    return FakePool(default=engine)


@pytest.fixture
async def chat(make_chat, pool: FakePool):  # type: ignore[no-untyped-def]
    return await make_chat(plugins=language_tasks(), engine=pool)


async def say_replying(chat, text: str, quoted: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    """Send ``text`` as a reply to a message whose text is ``quoted`` (None: no text, a photo)."""
    message = dataclasses.replace(
        chat.console.message(text),
        reply_to=QuotedMessage("m-quoted", text=quoted, user_id="bob", user_name="Bob"),
    )
    before = len(chat.console.sent)
    await chat.bot.handle(message, chat.console)
    return [reply.text for _, reply in chat.console.sent[before:]]


async def say_as(chat, user: str, text: str, *, chat_id: str = "console") -> list[str]:  # type: ignore[no-untyped-def]
    """Send ``text`` as another person in the console chat (or another chat)."""
    message = IncomingMessage("console", chat_id, ChatKind.PRIVATE, user.lower(), user, text)
    before = len(chat.console.sent)
    await chat.bot.handle(message, chat.console)
    return [reply.text for _, reply in chat.console.sent[before:]]


async def seed_history(
    db: Database, lines: list[tuple[str, str]], *, at: list[datetime] | None = None
) -> None:
    """Store (author, text) messages in the console chat in one transaction, oldest first."""
    async with db.session() as session:
        chat = await chat_for(session, "console", "console", "private")
        await session.flush()
        for i, (author, text) in enumerate(lines):
            user = await user_for(session, "console", author.lower(), author)
            await session.flush()
            await history.record(
                session,
                chat_id=chat.id,
                user_id=user.id,
                author_name=author,
                text=text,
                created_at=at[i] if at else None,
            )
