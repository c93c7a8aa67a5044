"""Every language task through the console, the real core and the real engine on tiny models.

The checkpoints are random (built by the engine tests' builders), so their
output is gibberish: these tests assert on structure — the prompts the
engine received, how input was chunked and batched, what was stored, and
which sources an answer cites.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.engine import EngineConfig, EnginePool
from tests.fixtures import checkpoints
from tests.tasks.conftest import Call, language_tasks, seed_history

#: Source tokens the tiny flan model reads; small so that long input must be chunked.
LIMIT = 256


@pytest.fixture
def backend() -> str:
    """SQLite only: these tests are about the engine path; storage and retrieval on both
    backends are covered by test_knowledge.py and test_ask.py with the scripted engine."""
    return "sqlite"


@pytest.fixture(scope="session")
def tiny_flan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = checkpoints.tiny_t5(tmp_path_factory.mktemp("tasks-flan"), gated=True, seed=5)
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": LIMIT}))
    return path


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkpoints.tiny_marian(tmp_path_factory.mktemp("tasks-marian"), seed=6)


@dataclass
class RecordingEngine:
    """A real engine, with every call it gets written down for the assertions."""

    inner: Any
    calls: list[Call] = field(default_factory=list)
    score_started: int = 0
    score_finished: int = 0
    max_concurrent_scores: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def generate(self, text: str, options: Any = None) -> Any:
        self.calls.append(Call("generate", [text], options))
        return await self.inner.generate(text, options)

    async def generate_batch(self, texts: list[str], options: Any = None) -> Any:
        self.calls.append(Call("generate_batch", list(texts), options))
        return await self.inner.generate_batch(texts, options)

    async def score(self, source: str, candidates: list[str]) -> Any:
        self.calls.append(Call("score", [source]))
        self.score_started += 1
        self.max_concurrent_scores = max(
            self.max_concurrent_scores, self.score_started - self.score_finished
        )
        try:
            return await self.inner.score(source, candidates)
        finally:
            self.score_finished += 1


@dataclass
class RecordingPool:
    inner: EnginePool
    engines: dict[str | None, RecordingEngine] = field(default_factory=dict)

    async def get(self, model: str | None = None) -> RecordingEngine:
        if model not in self.engines:
            self.engines[model] = RecordingEngine(await self.inner.get(model))
        return self.engines[model]

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
async def pool(tiny_flan: Path) -> AsyncIterator[RecordingPool]:
    recording = RecordingPool(
        EnginePool(EngineConfig(int8=False, max_batch=16, max_queue=512), str(tiny_flan))
    )
    yield recording
    await recording.close()


@pytest.fixture
async def chat(make_chat, pool):  # type: ignore[no-untyped-def]
    return await make_chat(plugins=language_tasks(), engine=pool)


async def test_ask_answers_from_the_knowledge_base_and_cites_it(chat, pool):
    await chat.say("/kb add The guest wifi password is hunter2.")
    office = await chat.say_one("/kb add The office opens at nine.")
    office_id = re.search(r"kb#(\d+)", office)[1]
    reply = await chat.say_one("/ask when does the office open?")
    assert reply.endswith(f"Source: kb#{office_id}")
    engine = pool.engines[None]
    (call,) = engine.calls
    assert "The office opens at nine." in call.prompts[0]
    assert "hunter2" not in call.prompts[0]
    assert engine.count_tokens(call.prompts[0]) <= engine.max_source_tokens

    await chat.say("and on sundays?")  # free text: a follow-up
    follow_up = engine.calls[-1].prompts[0]
    assert "Previous question: when does the office open?" in follow_up


async def test_translate_batches_sentences_and_keeps_layout(chat, pool):
    text = "Notes for today.\n- Buy milk. Call mum.\n- Pay rent.\n\nThanks."
    reply = await chat.say_one(f"/translate to de from en {text}")
    lines = reply.splitlines()
    assert lines[0] == "**English → German**"
    assert len(lines) - 1 == len(text.splitlines())
    assert lines[2].startswith("- ") and lines[3].startswith("- ") and lines[4] == ""
    (call,) = pool.engines[None].calls
    assert call.kind == "generate_batch" and len(call.prompts) == 5
    assert call.prompts[0] == "Translate English to German:\nNotes for today."


async def test_translate_uses_the_marian_model_for_its_pair(make_chat, pool, tiny_marian):
    chat = await make_chat(
        plugins=language_tasks(), engine=pool, translation_models={"en-de": str(tiny_marian)}
    )
    await chat.say("/translate to German from English the house is wonderful. It is big.")
    marian = pool.engines[str(tiny_marian)]
    assert [c.prompts for c in marian.calls] == [["the house is wonderful.", "It is big."]]
    assert None not in pool.engines  # the default model was never needed


async def test_summarize_input_ten_times_the_model_limit(chat, pool):
    sentences = [f"Item {i} of the plan is ready for review." for i in range(100)]
    text = " ".join(sentences)
    reply = await chat.say_one(f"/summarize short {text}")
    engine = pool.engines[None]
    assert engine.count_tokens(text) > 10 * engine.max_source_tokens
    # The first round comes in waves of at most max_batch (16) requests.
    waves = [c for c in engine.calls if c.prompts[0].startswith("Summarize")]
    first = [p for c in waves for p in c.prompts]
    assert all(c.kind == "generate_batch" and len(c.prompts) <= 16 for c in waves)
    assert len(first) >= 10  # ten times the limit cannot fit fewer prompts
    # Every sentence is read once, in order, by exactly one chunk of the first round.
    assert [int(n) for p in first for n in re.findall(r"Item (\d+) of", p)] == list(range(100))
    assert all(engine.count_tokens(p) <= engine.max_source_tokens for p in first)
    assert engine.calls[-1].kind == "generate"
    assert engine.calls[-1].prompts[0].startswith("Combine these partial summaries")
    assert reply.startswith("**Summary**") and f"{len(first)} parts" in reply


async def test_summarize_the_conversation_names_people(chat, pool, db):
    await seed_history(db, [("Alice", "The build is green again."), ("Bob", "Shipping at five.")])
    reply = await chat.say_one("/summarize")
    (call,) = pool.engines[None].calls
    assert call.prompts[0].endswith("Alice: The build is green again.\nBob: Shipping at five.")
    assert "Alice (1), Bob (1)" in reply


async def test_sentiment_of_a_text_and_of_200_messages_in_one_batch(chat, pool, db):
    reply = await chat.say_one("/sentiment I love this")
    assert re.fullmatch(r"\*\*(positive|negative|neutral)\*\* \(\d+% confident; .*\)", reply)
    await seed_history(db, [(("Alice", "Bob")[i % 2], f"message {i} is fine") for i in range(200)])
    reply = await chat.say_one("/sentiment 200")
    engine = pool.engines[None]
    assert [c.kind for c in engine.calls] == ["score"] * 201
    assert engine.max_concurrent_scores == 200  # all submitted before the first came back
    assert re.search(r"^- Alice: \w+ \(\d+%, 100 messages\)$", reply, re.M)
    assert re.search(r"^- Bob: \w+ \(\d+%, 100 messages\)$", reply, re.M)
