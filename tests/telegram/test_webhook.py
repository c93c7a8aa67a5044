"""Webhook mode: only requests carrying the secret are accepted; bad bodies store nothing."""

from __future__ import annotations

import json
import logging

import aiohttp
from sqlalchemy import func, select, text

from storage.events import claim_event
from storage.models import Message, Reminder
from tasks.reminders import Reminders
from tests.telegram.conftest import SECRET, WEBHOOK, hook_url, post, registry
from tests.telegram.fake_api import message


async def stored_messages(db) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Message))


async def test_webhook_is_registered_with_its_secret_and_no_polling(webhook, fake_api):
    [call] = fake_api.sent("setWebhook")
    assert call.params["url"] == "https://bot.example/telegram/hook"
    assert call.params["secret_token"] == SECRET
    assert "edited_message" not in call.params["allowed_updates"]
    assert not fake_api.sent("deleteWebhook")


async def test_update_with_the_right_secret_is_answered(webhook, fake_api):
    _, post = webhook
    update = {"update_id": 1, **message(42, "/echo via webhook")}
    assert await post(json.dumps(update)) == 200
    [reply] = await fake_api.wait_for(chat_id="42")
    assert reply.params["text"] == "via webhook"


async def test_wrong_or_missing_secret_is_refused(webhook, fake_api, db):
    bot, post = webhook
    update = json.dumps({"update_id": 1, **message(42, "/echo sneaky")})
    for secret in (None, "", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper()):
        assert await post(update, secret=secret) == 403, secret
    await bot.transport.wait_idle()
    assert await stored_messages(db) == 0 and not fake_api.sent()


async def test_bad_json_is_400_and_nothing_is_stored(webhook, fake_api, db):
    bot, post = webhook
    bodies = [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"{}", b'{"update_id": "x"}']
    bodies += [b'{"update_id": 1, "message": "text"}', b'{"update_id": 1, "message": {"x": 1}}']
    for body in bodies:
        assert await post(body) == 400, body
    await bot.transport.wait_idle()
    assert await stored_messages(db) == 0 and not fake_api.sent()
    # the server is still healthy afterwards
    assert await post(json.dumps({"update_id": 2, **message(42, "/echo still here")})) == 200
    await fake_api.wait_for(chat_id="42", text="still here")


async def stored_reminders(db) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Reminder))


async def test_a_redelivered_update_is_answered_once(running, fake_api, db):
    """Telegram posts an update again when the first answer was slow or failed."""
    bot = await running(plugins=registry(Reminders()), **WEBHOOK)
    update = json.dumps({"update_id": 7, **message(42, "/remind me in 2 hours to stretch")})
    async with aiohttp.ClientSession() as http:
        assert await post(http, hook_url(bot), update) == 200
        # the re-delivery is acknowledged too, so Telegram stops sending it
        assert await post(http, hook_url(bot), update) == 200
    await bot.transport.wait_idle()
    assert len(fake_api.sent(chat_id="42")) == 1
    assert await stored_reminders(db) == 1
    async with db.session() as session:
        users = await session.scalar(
            select(func.count()).select_from(Message).where(Message.from_bot.is_(False))
        )
    assert users == 1


async def test_a_redelivery_to_another_worker_is_answered_once(running, fake_api, db):
    """Two processes behind one webhook URL share the memory of handled updates."""
    first, second = await running(**WEBHOOK), await running(**WEBHOOK)
    update = json.dumps({"update_id": 8, **message(42, "/echo once")})
    async with aiohttp.ClientSession() as http:
        assert await post(http, hook_url(first), update) == 200
        assert await post(http, hook_url(second), update) == 200
    await first.transport.wait_idle()
    await second.transport.wait_idle()
    assert [c.params["text"] for c in fake_api.sent(chat_id="42")] == ["once"]


async def test_the_same_update_id_of_another_bot_is_not_a_duplicate(webhook, fake_api, db):
    """update_id counts per bot, so the memory is keyed by the bot's id too."""
    _, post = webhook
    async with db.session() as session:
        await claim_event(session, "telegram:1234", "9")  # another bot handled its update 9
    assert await post(json.dumps({"update_id": 9, **message(42, "/echo mine")})) == 200
    await fake_api.wait_for(chat_id="42", text="mine")


async def test_an_update_is_still_answered_when_the_repeat_check_fails(
    running, fake_api, db, caplog
):
    """Losing the user's message is worse than a rare duplicate: the update is handled anyway."""
    bot = await running(**WEBHOOK)
    async with db.session() as session:
        await session.execute(text("DROP TABLE processed_events"))
    async with aiohttp.ClientSession() as http:
        update = json.dumps({"update_id": 12, **message(42, "/echo regardless")})
        assert await post(http, hook_url(bot), update) == 200
    await bot.transport.wait_idle()
    assert [c.params["text"] for c in fake_api.sent(chat_id="42")] == ["regardless"]
    [warning] = [r for r in caplog.records if "for a repeat" in r.getMessage()]
    assert warning.levelno == logging.WARNING and not warning.exc_info
    assert "\n" not in warning.getMessage()
