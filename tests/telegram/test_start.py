"""Starting the Telegram transport: problems are one clear line, never a traceback or the token."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from bot.app import open_bot, start_transport
from bot.transports.base import TransportStartError
from bot.transports.platforms import FACTORIES
from bot.transports.telegram import TelegramTransport
from tests.telegram.conftest import make_transport, registry


async def start_with(db, settings):
    async with open_bot(
        settings, db=db, plugins=registry(), with_engine=False, with_reminders=False
    ) as bot:
        await start_transport(bot, make_transport(settings))


async def test_bad_token_is_a_one_line_error_without_the_token(db, telegram_settings, fake_api):
    bad = telegram_settings.model_copy(update={"telegram_token": SecretStr("123456:WRONG")})
    with pytest.raises(TransportStartError) as caught:
        await start_with(db, bad)
    text = str(caught.value)
    assert "rejected the bot token" in text and "@BotFather" in text
    assert "\n" not in text and "WRONG" not in text
    assert [c.status for c in fake_api.calls] == [401]  # getMe, then nothing else


async def test_unreachable_api_is_a_one_line_error(db, telegram_settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = telegram_settings.model_copy(update={"telegram_api_url": f"http://127.0.0.1:{port}/bot"})
    with pytest.raises(TransportStartError, match="Could not reach the Telegram Bot API") as caught:
        await start_with(db, down)
    assert "\n" not in str(caught.value) and "TEST-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [(None, "needs SEQBOT_TELEGRAM_WEBHOOK_SECRET"), ("has spaces!", "letters, digits")],
)
async def test_webhook_mode_needs_a_valid_secret(db, telegram_settings, fake_api, secret, problem):
    webhook = telegram_settings.model_copy(
        update={
            "telegram_webhook_url": "https://bot.example/hook",
            "telegram_webhook_secret": SecretStr(secret) if secret else None,
        }
    )
    with pytest.raises(TransportStartError, match=problem):
        await start_with(db, webhook)
    assert fake_api.calls == []  # refused before any network call


def test_seqbot_run_builds_the_transport_from_the_token(telegram_settings, settings):
    built = [type(t) for f in FACTORIES if (t := f(telegram_settings)) is not None]
    assert built == [TelegramTransport]  # the Telegram token alone: Slack stays off
    assert [f(settings) for f in FACTORIES] == [None, None]
