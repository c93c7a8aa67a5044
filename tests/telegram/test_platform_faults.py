"""Bot API faults a fault-injecting proxy found: rejected markup and HTML error pages.

Telegram refuses a message whose HTML it cannot parse; the reply is then sent
once more as plain text, so the user gets it exactly once and no apology. A
proxy in front of the Bot API answers 502 with an HTML page; each retry is one
WARNING line, never an ERROR with a JSONDecodeError traceback.
"""

from __future__ import annotations

import logging

import pytest

from bot.messages import Address, Button, Reply
from bot.transports.base import DeliveryError, TransportStartError
from bot.transports.telegram.rendering import html_chunks
from tests.fixtures.tasks import essay
from tests.telegram.conftest import make_transport, registry
from tests.telegram.fake_api import BAD_GATEWAY_PAGE, message

CANT_PARSE = 'Bad Request: can\'t parse entities: Unsupported start tag "q" at byte offset 3'
HTML_ONLY = {"parse_mode": "HTML"}


def send_attempts(fake_api, chat_id: str) -> list[tuple[int, str | None]]:
    return [
        (c.status, c.params.get("parse_mode"))
        for c in fake_api.calls
        if c.method == "sendMessage" and c.params.get("chat_id") == chat_id
    ]


def tracebacks_or_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_rejected_markup_is_resent_once_as_plain_text(running, fake_api, caplog):
    caplog.set_level(logging.INFO)
    bot = await running()
    fake_api.fail_next("sendMessage", 400, CANT_PARSE, match=HTML_ONLY)
    await fake_api.push(message(42, "/echo **Note:** a < b & [docs](https://example.org/a?b=1&c)"))
    await fake_api.wait_for(chat_id="42")
    await bot.transport.wait_idle()
    assert send_attempts(fake_api, "42") == [(400, "HTML"), (200, None)]
    [delivered] = fake_api.sent(chat_id="42")
    assert delivered.params["text"] == "Note: a < b & docs (https://example.org/a?b=1&c)"
    assert not tracebacks_or_errors(caplog)
    assert [r.levelno for r in caplog.records if "plain text" in r.getMessage()] == [
        logging.WARNING
    ]


async def test_only_the_rejected_chunk_of_a_long_reply_is_resent(running, fake_api):
    bot = await running()
    text = "\n\n".join(f"Part {n}. {essay()[:500]}" for n in range(21))
    chunks = html_chunks(text)
    assert len(chunks) == 3
    fake_api.fail_next("sendMessage", 400, CANT_PARSE, match={**HTML_ONLY, "text": chunks[1]})
    reply = Reply(text, buttons=(Button("Again", "echo:again"),))
    await bot.bot.services.transports.send(Address("telegram", "5"), reply)
    assert send_attempts(fake_api, "5") == [
        (200, "HTML"),
        (400, "HTML"),
        (200, None),
        (200, "HTML"),
    ]
    delivered = fake_api.sent(chat_id="5")
    assert [c.params["text"] for c in delivered] == chunks  # no markup in it to lose
    assert "reply_markup" in delivered[-1].params  # the buttons still come last


async def test_plain_text_keeps_the_buttons(running, fake_api):
    bot = await running()
    fake_api.fail_next("sendMessage", 400, CANT_PARSE, match=HTML_ONLY)
    reply = Reply("**Pick** one", buttons=(Button("Red", "echo:chose:red"),))
    await bot.bot.services.transports.send(Address("telegram", "5"), reply)
    [delivered] = fake_api.sent(chat_id="5")
    assert delivered.params["text"] == "Pick one"
    assert delivered.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Red"


async def test_other_bad_requests_are_not_resent(running, fake_api):
    bot = await running()
    fake_api.fail_next("sendMessage", 400, "Bad Request: message thread not found")
    with pytest.raises(DeliveryError, match="thread not found"):
        await bot.bot.services.transports.send(Address("telegram", "5"), Reply("lost"))
    assert send_attempts(fake_api, "5") == [(400, "HTML")]


async def test_an_html_502_page_is_one_warning_per_retry(running, fake_api, caplog):
    caplog.set_level(logging.INFO)
    bot = await running()
    fake_api.fail_next("sendMessage", 502, "Bad Gateway", times=2, html=BAD_GATEWAY_PAGE)
    await bot.bot.services.transports.send(Address("telegram", "5"), Reply("through the proxy"))
    assert [status for status, _ in send_attempts(fake_api, "5")] == [502, 502, 200]
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.WARNING, logging.WARNING]
    assert "Bad Gateway (502)" in retries[0].getMessage()
    assert not tracebacks_or_errors(caplog)
    assert not [r for r in caplog.records if "<html" in r.getMessage()]


async def test_a_lasting_html_502_is_a_short_delivery_error(running, fake_api, caplog):
    bot = await running()
    fake_api.fail_next("sendMessage", 502, "Bad Gateway", times=3, html=BAD_GATEWAY_PAGE)
    with pytest.raises(DeliveryError) as caught:
        await bot.bot.services.transports.send(Address("telegram", "5"), Reply("lost"))
    assert str(caught.value) == "Telegram could not be reached: Bad Gateway (502)"
    assert not tracebacks_or_errors(caplog)


async def test_an_html_502_page_while_polling_is_one_warning(running, fake_api, caplog):
    caplog.set_level(logging.INFO)
    await running()
    await fake_api.first_poll()
    fake_api.fail_next("getUpdates", 502, "Bad Gateway", html=BAD_GATEWAY_PAGE)
    await fake_api.wait_until(lambda: bool(fake_api.sent("getUpdates", status=502)))
    await fake_api.push(message(42, "/echo after the outage"))  # needs a poll after the 502
    await fake_api.wait_for(chat_id="42", text="after the outage")
    failures = [r for r in caplog.records if "polling failed" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING]
    assert "Bad Gateway (502)" in failures[0].getMessage()
    assert not tracebacks_or_errors(caplog)
    assert not [r for r in caplog.records if "<html" in r.getMessage()]


async def test_an_html_502_at_start_is_one_short_line(telegram_settings, fake_api, caplog):
    fake_api.fail_next("getMe", 502, "Bad Gateway", html=BAD_GATEWAY_PAGE)
    transport = make_transport(telegram_settings)

    class FakeBot:  # start() fails before it reads anything else
        plugins = registry()

    with pytest.raises(TransportStartError) as caught:
        await transport.start(FakeBot())  # type: ignore[arg-type]
    assert str(caught.value).endswith(": Bad Gateway (502)")
    assert not tracebacks_or_errors(caplog)
