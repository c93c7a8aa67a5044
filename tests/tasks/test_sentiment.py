"""/sentiment: scoring candidate labels, and the mood of a whole conversation in one batch."""

from __future__ import annotations

import math

from tasks.sentiment import softmax
from tests.tasks.conftest import FakeEngine, FakePool, language_tasks, say_replying, seed_history


def by_keyword(source: str, candidate: str) -> float:
    """Log-probabilities that favour "positive" for happy words and "negative" for sad ones."""
    text = source.rsplit("\n\n", 1)[-1].lower()
    mood = "positive" if "love" in text else "negative" if "hate" in text else "neutral"
    return 0.0 if candidate == mood else -2.0


def test_softmax_is_a_distribution():
    probs = softmax([0.0, -2.0, -1.0])
    assert math.isclose(sum(probs), 1.0)
    assert math.isclose(probs[0], 1 / (1 + math.exp(-2) + math.exp(-1)))


async def test_a_text_gets_a_label_and_confidence(chat, engine):
    engine.score_of = by_keyword
    reply = await chat.say_one("/sentiment I love this new release")
    assert reply == "**positive** (79% confident; positive 79%, negative 11%, neutral 11%)"
    (call,) = engine.calls
    assert call.kind == "score"
    assert call.prompts == [
        "Is the sentiment of the following text positive, negative or neutral?\n\n"
        "I love this new release"
    ]


async def test_labels_are_configurable(make_chat):
    engine = FakeEngine(score_of=lambda s, c: 0.0 if c == "angry" else -3.0)
    chat = await make_chat(
        plugins=language_tasks(),
        engine=FakePool(default=engine),
        sentiment_labels=["happy", "angry"],
    )
    assert (await chat.say_one("/sentiment grr")).startswith("**angry** (95% confident")
    assert "happy or angry?" in engine.prompts()[0]


async def test_a_message_replied_to_and_input_errors(chat, engine):
    engine.score_of = by_keyword
    assert (await say_replying(chat, "/sentiment", "I hate Mondays"))[0].startswith("**negative**")
    assert await say_replying(chat, "/sentiment", None) == [
        "The message you replied to has no text I can read; send the text to classify instead."
    ]
    engine.max_source_tokens = 16
    assert "too long for the language model" in await chat.say_one("/sentiment " + "meh " * 40)


async def test_conversation_of_200_messages_is_one_batch(chat, engine, db):
    engine.score_of = by_keyword
    people = ("Alice", "Bob", "Carol", "Dan")
    moods = {"Alice": "I love it", "Bob": "I hate it", "Carol": "it is Tuesday", "Dan": "I love it"}
    await seed_history(db, [(people[i % 4], f"{moods[people[i % 4]]} #{i}") for i in range(200)])
    reply = await chat.say_one("/sentiment 200")
    assert engine.kinds() == ["score"] * 200
    # Every request was submitted before the first one finished: the engine saw one batch.
    assert engine.max_concurrent_scores == 200
    lines = reply.splitlines()
    assert lines[0] == "**Mood of the last 200 messages**: mostly positive (45%)"
    assert lines[1] == "200 messages: positive 100, negative 50, neutral 50"
    assert sorted(lines[2:]) == [
        "- Alice: positive (79%, 50 messages)",
        "- Bob: negative (79%, 50 messages)",
        "- Carol: neutral (79%, 50 messages)",
        "- Dan: positive (79%, 50 messages)",
    ]


async def test_long_messages_are_cut_to_fit_and_commands_skipped(make_chat, db):
    engine = FakeEngine(max_source_tokens=30)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    await seed_history(db, [("Alice", "so " * 100), ("Bob", "/help"), ("Bob", "fine")])
    reply = await chat.say_one("/sentiment")
    assert len(engine.calls) == 2
    assert all(engine.count_tokens(p) <= 30 for p in engine.prompts())
    assert "2 messages" in reply.splitlines()[1]


async def test_an_empty_conversation(chat, engine):
    assert await chat.say_one("/sentiment 2h") == (
        "Nobody said anything I can read the mood of in the last 2 hours."
    )
    assert engine.calls == []
