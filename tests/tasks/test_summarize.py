"""/summarize: texts, replies, the recent conversation, and map-reduce over long input."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine import EngineConfig, EnginePool
from bot.errors import UserError
from storage.models import utcnow
from tasks._engine_tasks import Window, parse_window
from tasks.summarize import MAX_ROUNDS, parse_options
from tests.fixtures import checkpoints
from tests.tasks.conftest import (
    FakeEngine,
    FakePool,
    QueueLimitedEngine,
    language_tasks,
    say_replying,
    seed_history,
)
from tests.tasks.test_end_to_end import RecordingPool


def test_options():
    assert parse_options("") == ("medium", None, "")
    assert parse_options("short") == ("short", None, "")
    assert parse_options("2h") == ("medium", Window(period=timedelta(hours=2)), "")
    assert parse_options("long 50") == ("long", Window(count=50), "")
    assert parse_options("50 short") == ("short", Window(count=50), "")
    assert parse_options("short The cat sat.\nIt slept.") == (
        "short",
        None,
        "The cat sat.\nIt slept.",
    )
    assert parse_options("50 people came") == ("medium", None, "50 people came")


@pytest.mark.parametrize(
    ("word", "period"),
    [
        ("30m", timedelta(minutes=30)),
        ("2hrs", timedelta(hours=2)),
        ("1h30m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("1.5m", timedelta(minutes=1)),  # windows are whole minutes
        ("9999d", timedelta(days=9999)),
    ],
)
def test_periods_are_read_with_the_one_duration_grammar(word: str, period: timedelta) -> None:
    assert parse_window(word) == Window(period=period)


@pytest.mark.parametrize(
    ("word", "refusal"),
    [
        ("0m", "Give a period of at least one minute, e.g. 30m or 2h."),
        ("0.5m", "Give a period of at least one minute, e.g. 30m or 2h."),
        ("3mo", "Give a period in minutes, hours, days or weeks, up to 9999 days, e.g. 30m or 2h."),
        (
            "10000d",
            "Give a period in minutes, hours, days or weeks, up to 9999 days, e.g. 30m or 2h.",
        ),
    ],
)
def test_periods_out_of_range_are_refused(word: str, refusal: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_window(word)
    assert str(refused.value) == refusal


def test_words_that_are_no_window_are_text() -> None:
    assert [parse_window(w) for w in ("hello", "-5m", "2x", "½h")] == [None] * 4


async def test_a_text_with_a_length_option(chat, engine):
    engine.answer = lambda prompt: "Cats sleep a lot."
    reply = await chat.say_one("/summarize short Cats sleep sixteen hours a day. They dream.")
    assert reply == "**Summary**\nCats sleep a lot."
    (call,) = engine.calls
    assert call.kind == "generate" and call.options.max_new_tokens == 48
    assert call.prompts == [
        "Summarize the following text in one sentence.\n\n"
        "Cats sleep sixteen hours a day.\nThey dream."
    ]


async def test_a_message_replied_to(chat, engine):
    await say_replying(chat, "/summarize long", "The build broke after the upgrade.")
    (prompt,) = engine.prompts()
    assert prompt.endswith("in detail.\n\nThe build broke after the upgrade.")
    assert await say_replying(chat, "/summarize", None) == [
        "The message you replied to has no text I can read; send the text to summarize instead."
    ]


async def test_the_recent_conversation_with_attribution(chat, engine, db):
    await seed_history(
        db,
        [
            ("Alice", "I pushed the fix for the login bug."),
            ("Bob", "Great, I will deploy it after lunch."),
            ("Bob", "/translate to de hello"),
            ("Carol", "Can someone review my pull request?"),
        ],
    )
    reply = await chat.say_one("/summarize")
    prompt = engine.prompts("generate")[0]
    assert prompt.startswith("Summarize this conversation in a few sentences. Say who said what.")
    assert prompt.endswith(
        "Alice: I pushed the fix for the login bug.\n"
        "Bob: Great, I will deploy it after lunch.\n"
        "Carol: Can someone review my pull request?"
    )
    assert reply.startswith(
        "**Summary of the last 50 messages** (3 messages from Alice (1), Bob (1), Carol (1))"
    )


async def test_windows_by_count_and_by_time(chat, engine, db):
    now = utcnow()
    await seed_history(
        db,
        [("Alice", "an old message"), ("Bob", "a recent message"), ("Carol", "the newest one")],
        at=[now - timedelta(hours=3), now - timedelta(minutes=30), now - timedelta(minutes=1)],
    )
    assert await chat.say_one("/summarize 2h") == (
        "**Summary of the last 2 hours** (2 messages from Bob (1), Carol (1))\nscripted answer"
    )
    assert "old message" not in engine.prompts()[-1] and "Bob: a recent" in engine.prompts()[-1]
    await chat.say("/summarize 2")  # the command itself is not counted as conversation
    assert "Alice" not in engine.prompts()[-1] and "Carol: the newest" in engine.prompts()[-1]


async def test_nothing_to_summarize(chat, engine):
    assert await chat.say_one("/summarize 1h") == (
        "Nobody said anything I can summarize in the last hour."
    )
    assert engine.calls == []


@pytest.fixture
def small_engine() -> FakeEngine:
    """A model that reads 64 tokens; each chunk summary is numbered so tests can follow it."""
    counter = iter(range(1000))
    return FakeEngine(max_source_tokens=64, answer=lambda prompt: f"point {next(counter)}.")


async def test_map_reduce_over_ten_times_the_model_limit(make_chat, small_engine):
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=small_engine))
    sentences = [f"Sentence number {i} says something new about topic {i}." for i in range(80)]
    text = " ".join(sentences)
    assert small_engine.count_tokens(text) > 10 * small_engine.max_source_tokens
    reply = await chat.say_one(f"/summarize {text}")

    first, *rest = small_engine.calls
    assert first.kind == "generate_batch" and len(first.prompts) >= 10
    assert all(small_engine.count_tokens(p) <= 64 for p in first.prompts)
    body = "".join(p.split("\n\n", 1)[1].replace("\n", " ") + " " for p in first.prompts)
    assert body.split() == text.split()  # every sentence once, in order
    (reduce,) = rest  # the chunk summaries fit one prompt: a single reduce step
    assert reduce.kind == "generate"
    assert reduce.prompts[0].startswith("Combine these partial summaries")
    assert all(f"point {i}." in reduce.prompts[0] for i in range(len(first.prompts)))
    assert f"in {len(first.prompts)} parts first" in reply


async def test_map_reduce_over_a_long_conversation(make_chat, small_engine, db):
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=small_engine))
    await seed_history(
        db, [(("Alice", "Bob")[i % 2], f"message {i} about the plan " * 3) for i in range(100)]
    )
    reply = await chat.say_one("/summarize 100")
    batch = small_engine.calls[0]
    assert batch.kind == "generate_batch" and len(batch.prompts) > 10
    assert all(p.startswith("Summarize this conversation") for p in batch.prompts)
    assert all(small_engine.count_tokens(p) <= 64 for p in batch.prompts)
    assert "Alice (50), Bob (50)" in reply


async def test_summaries_that_still_do_not_fit_are_reduced_again(make_chat):
    engine = FakeEngine(max_source_tokens=64, answer=lambda prompt: "a wordy chunk summary " * 4)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    text = " ".join(f"Sentence {i} is here." for i in range(200))
    await chat.say(f"/summarize {text}")
    kinds = engine.kinds()
    assert kinds[:2] == ["generate_batch", "generate_batch"] and kinds[-1] == "generate"
    assert len(engine.calls[1].prompts) < len(engine.calls[0].prompts)
    assert all(engine.count_tokens(p) <= 64 for p in engine.prompts())


async def test_decimals_and_version_numbers_reach_the_model_whole(chat, engine):
    await chat.say("/summarize Version 2.0 is out. The price rose 3.5 percent today.")
    (prompt,) = engine.prompts()
    assert prompt.endswith("\n\nVersion 2.0 is out.\nThe price rose 3.5 percent today.")


async def test_more_chunks_than_the_engine_queue_on_an_idle_engine(make_chat):
    counter = iter(range(1000))
    engine = QueueLimitedEngine(max_source_tokens=64, answer=lambda p: f"point {next(counter)}.")
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    text = " ".join(f"Sentence number {i} says something new about topic {i}." for i in range(40))
    reply = await chat.say_one(f"/summarize {text}")
    assert reply.startswith("**Summary**\npoint ")
    chunks = [p for c in engine.calls if c.kind == "generate_batch" for p in c.prompts]
    assert len(chunks) > 2 * engine.max_queue  # more chunks than the queue holds, in waves
    assert engine.most_waiting <= engine.max_queue
    assert f"in {len(chunks)} parts first" in reply


def _text_tokens(engine, prompts: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Tokens of the text a round read: each prompt without its instruction."""
    return sum(engine.count_tokens(p.split("\n\n", 1)[1]) for p in prompts)


@pytest.mark.parametrize("sentences", [60, 400])
async def test_rounds_shrink_and_end_when_the_model_always_answers_at_length(make_chat, sentences):
    """A model that ignores "summarize" and rambles must still converge in bounded rounds."""
    engine = FakeEngine(max_source_tokens=64, answer=lambda prompt: "and so on " * 60)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    text = " ".join(f"Item {i} here." for i in range(sentences))
    reply = await chat.say_one(f"/summarize {text}")
    *rounds, final = engine.calls
    assert all(c.kind == "generate_batch" for c in rounds) and final.kind == "generate"
    assert 1 < len(rounds) <= MAX_ROUNDS
    sizes = [_text_tokens(engine, c.prompts) for c in rounds]
    assert all(later <= earlier // 2 for earlier, later in itertools.pairwise(sizes)), sizes
    assert engine.count_tokens(final.prompts[0]) <= 64
    assert reply.startswith("**Summary**\nand so on")
    cut_note = "too long to summarize whole" in reply
    assert cut_note == (sentences == 400)  # only the longest input hits the round limit


@pytest.fixture(scope="session")
def tiny_flan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random flan-T5 that reads 64 tokens and answers with whatever tokens come out."""
    path = checkpoints.tiny_t5(tmp_path_factory.mktemp("summarize-flan"), gated=True, seed=5)
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))
    return path


@pytest.mark.parametrize("backend", ["sqlite"])  # about the engine path, not storage
async def test_a_random_model_on_a_two_request_queue_converges(make_chat, tiny_flan):
    """The real engine with ``max_queue=2``, idle: before, "busy"; and rounds grew 2 → 11 → 63."""
    pool = RecordingPool(
        EnginePool(EngineConfig(int8=False, max_batch=4, max_queue=2), str(tiny_flan))
    )
    chat = await make_chat(
        plugins=language_tasks(), engine=pool, engine_max_batch=4, engine_max_queue=2
    )
    text = " ".join(f"Item {i} of the plan is ready for review." for i in range(6))
    try:
        reply = await chat.say_one(f"/summarize short {text}")
    finally:
        await pool.close()
    engine = pool.engines[None]
    batches = [c for c in engine.calls if c.kind == "generate_batch"]
    first = [p for c in batches if c.prompts[0].startswith("Summarize") for p in c.prompts]
    later = [p for c in batches if c.prompts[0].startswith("Combine") for p in c.prompts]
    assert len(first) > 2 and all(len(c.prompts) <= 2 for c in batches)
    # Each round reads at most half the one before, so all later rounds together read less.
    assert _text_tokens(engine, later) < _text_tokens(engine, first)
    assert reply.startswith("**Summary**\n") and f"in {len(first)} parts first" in reply


async def test_a_model_that_summarizes_no_part_still_answers_and_says_so(make_chat):
    engine = FakeEngine(
        max_source_tokens=64,
        answer=lambda prompt: "" if prompt.startswith("Summarize") else "Only the start.",
    )
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    text = " ".join(f"Sentence {i} is here." for i in range(40))
    reply = await chat.say_one(f"/summarize {text}")
    assert engine.kinds()[-1] == "generate"
    assert engine.prompts()[-1].split("\n\n", 1)[1].startswith("Sentence 0 is here. Sentence 1")
    assert reply.startswith("**Summary**\nOnly the start.\n\n(")
    assert "covers only its first part" in reply
