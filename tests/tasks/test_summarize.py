"""/summarize: texts, replies, the recent conversation, and map-reduce over long input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.models import utcnow
from tasks._language import Window
from tasks.summarize import parse_options
from tests.tasks.conftest import FakeEngine, FakePool, language_tasks, say_replying, seed_history


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
    reply = await chat.say_one("/summarize 2h")
    assert reply.startswith("**Summary of the last 2 hours**")
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
