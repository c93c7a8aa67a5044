"""Inline mode: ``inline_query`` updates answered with ``answerInlineQuery``, never a chat post."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.transports.telegram.inline import InlineCache, inline_command
from storage.models import Chat, Message
from tests.tasks.conftest import FakeEngine, FakePool, language_tasks
from tests.telegram.fake_api import inline_query, message, user


def shout(prompt: str) -> str:
    """Scripted "model": the text after the instruction line, upper-cased."""
    return prompt.split("\n", 1)[-1].upper()


async def answer_to(fake_api, text: str, count: int = 1, **sender) -> list[dict]:  # type: ignore[no-untyped-def]
    """Push ``@bot <text>`` and return the results of the ``count``-th inline answer."""
    await fake_api.push(inline_query(text, sender=user(**sender) if sender else None))
    calls = await fake_api.wait_for("answerInlineQuery", count=count)
    return calls[count - 1].params["results"]


async def test_translate_inline_answers_with_an_article_and_posts_nothing(running, fake_api):
    engine = FakeEngine(answer=shout)
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    [result] = await answer_to(fake_api, "translate to de good morning")
    assert result["type"] == "article" and result["title"] == "Translation"
    assert "GOOD MORNING" in result["input_message_content"]["message_text"]
    assert result["input_message_content"]["parse_mode"] == "HTML"
    assert "GOOD MORNING" in result["description"]
    [call] = fake_api.sent("answerInlineQuery")
    assert call.params["cache_time"] == 60 and call.params["is_personal"] is True
    assert any("good morning" in p for p in engine.prompts())
    assert not fake_api.sent("sendMessage") and not fake_api.sent("sendChatAction")


async def test_summarize_inline(running, fake_api):
    engine = FakeEngine(answer=lambda prompt: "Cats sleep a lot.")
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    [result] = await answer_to(fake_api, "summarize Cats sleep sixteen hours a day. They dream.")
    assert result["title"] == "Summary"
    assert "Cats sleep a lot." in result["input_message_content"]["message_text"]


async def test_the_same_query_in_the_same_language_runs_the_model_once(running, fake_api):
    engine = FakeEngine(answer=shout)
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    first = await answer_to(fake_api, "translate to de good morning")
    second = await answer_to(fake_api, "translate  to de good morning", count=2, user_id=43)
    assert first == second
    assert len(engine.calls) == 1
    await answer_to(fake_api, "translate to de good night", count=3)
    assert len(engine.calls) == 2


async def test_the_cache_is_per_user_language(running, fake_api, db):
    engine = FakeEngine(answer=shout)
    bot = await running(plugins=language_tasks(), engine=FakePool(default=engine))
    await fake_api.push(message(43, "/settings language fr", sender=user(43, "Bob")))
    await fake_api.wait_for(chat_id="43")
    await bot.transport.wait_idle()
    await answer_to(fake_api, "translate good morning")
    await answer_to(fake_api, "translate good morning", count=2, user_id=43, first_name="Bob")
    assert len(engine.calls) == 2  # Alice (English default) and Bob (French) differ


async def test_errors_become_one_article_explaining_them(running, fake_api):
    await running(plugins=language_tasks(), engine=FakePool(default=FakeEngine()))
    [result] = await answer_to(fake_api, "translate to qqqqqq hello")
    assert "I don't know the language 'qqqqqq'" in result["input_message_content"]["message_text"]


async def test_empty_and_unknown_queries_get_the_help_article(running, fake_api):
    engine = FakeEngine()
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    [empty] = await answer_to(fake_api, "")
    assert empty["title"] == "Translate or summarize"
    assert "translate to de good morning" in empty["input_message_content"]["message_text"]
    [unknown] = await answer_to(fake_api, "remind me in 2 hours", count=2)
    assert "I can translate and summarize" in unknown["input_message_content"]["message_text"]
    [bare] = await answer_to(fake_api, "summarize", count=3)
    assert "Type the text after 'summarize'" in bare["input_message_content"]["message_text"]
    assert not engine.calls


async def test_a_late_answer_is_only_logged(running, fake_api):
    await running(plugins=language_tasks(), engine=FakePool(default=FakeEngine()))
    fake_api.fail_next("answerInlineQuery", 400, "Bad Request: query is too old")
    await fake_api.push(inline_query("translate to de hello"))
    await fake_api.wait_for("answerInlineQuery", status=400)
    await fake_api.push(inline_query("translate to de hello"))
    await fake_api.wait_for("answerInlineQuery")  # the next one is served (from the cache)


async def test_webhook_accepts_inline_queries(webhook, fake_api):
    _bot, post = webhook
    assert await post(json.dumps({"update_id": 7, **inline_query("")})) == 200
    await fake_api.wait_for("answerInlineQuery")
    body = inline_query("")
    body["inline_query"]["query"] = 5
    assert await post(json.dumps({"update_id": 8, **body})) == 400


def test_query_parsing():
    assert inline_command("/tr to de hi") == "tr"
    assert inline_command("Summarize this") == "summarize"
    assert inline_command("kb add secret") is None and inline_command("  ") is None
    assert InlineCache.key("/translate   to de  hi", "en") == ("translate to de hi", "en")


def test_the_cache_forgets_after_its_ttl_and_beyond_its_capacity():
    cache = InlineCache(ttl=0, capacity=1)
    cache.put(("a", "en"), [])
    assert cache.get(("a", "en")) is None
    cache = InlineCache(capacity=1)
    cache.put(("a", "en"), [])
    cache.put(("b", "en"), [])
    assert cache.get(("a", "en")) is None and cache.get(("b", "en")) == []


async def test_an_inline_query_and_its_answer_are_kept_in_no_history(running, fake_api, db):
    """Nobody else sees an inline query and no /forget reaches it: nothing is stored."""
    engine = FakeEngine(answer=shout)
    bot = await running(plugins=language_tasks(), engine=FakePool(default=engine))
    await answer_to(fake_api, "translate to de my secret plan")
    await bot.transport.wait_idle()
    async with db.session() as session:
        texts = list(await session.scalars(select(Message.text)))
        chats = set(await session.scalars(select(Chat.external_id).join(Message)))
    assert not [t for t in texts if "secret plan" in t.lower()]
    assert chats == set()  # not in a real chat, and not in the asker's pseudo chat either
    await fake_api.push(message(42, "hello there"))  # a normal message still is stored
    await fake_api.wait_for(chat_id="42")
    await bot.transport.wait_idle()
    async with db.session() as session:
        assert "hello there" in list(await session.scalars(select(Message.text)))
