"""Webhook mode: only requests carrying the secret are accepted; bad bodies store nothing."""

from __future__ import annotations

import json

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.transports.telegram.webhook import SECRET_HEADER
from storage.models import Message
from tests.telegram.fake_api import message

SECRET = "s3cret_Token-42"


@pytest.fixture
async def webhook(running, fake_api):
    bot = await running(
        telegram_webhook_url="https://bot.example/telegram/hook",
        telegram_webhook_secret=SecretStr(SECRET),
        telegram_webhook_port=0,
    )
    url = f"http://127.0.0.1:{bot.transport.webhook_port}/telegram/hook"
    async with aiohttp.ClientSession() as http:

        async def post(body: bytes | str, secret: str | None = SECRET) -> int:
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers[SECRET_HEADER] = secret
            data = body.encode() if isinstance(body, str) else body
            async with http.post(url, data=data, headers=headers) as response:
                return response.status

        yield bot, post


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
