"""Sending through Telegram when it pushes back: rate limits, blocked bots, network failures."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.messages import Address, Reply
from bot.transports.base import ChatUnavailable, DeliveryError
from bot.transports.telegram.menus import MENU_LANGUAGES
from storage.models import Chat, ReminderStatus
from tests.telegram.conftest import (
    add_reminder,
    eventually,
    make_transport,
    registry,
    reminder_status,
)
from tests.telegram.fake_api import message, user

PRIVATE = 42


async def test_reminder_style_send_reaches_the_stored_chat(running, fake_api):
    bot = await running()
    address = Address("telegram", "-100777", thread_id="12")
    sent_id = await bot.bot.services.transports.send(address, Reply("**Reminder:** stand up"))
    [call] = fake_api.sent(chat_id="-100777")
    assert call.params["text"] == "<b>Reminder:</b> stand up"
    assert call.params["message_thread_id"] == 12
    assert sent_id == "5000"  # the message_id the fake API gave its first message


# python-telegram-bot warns about its own RetryAfter.retry_after type change (v22.2) from
# inside RetryAfter's constructor; seqbot reads it type-independently (retry_after_seconds).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_is_waited_out_then_delivered(running, fake_api):
    await running()
    fake_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await fake_api.push(message(PRIVATE, "/echo patience"))
    await fake_api.wait_for(chat_id=str(PRIVATE), text="patience")
    attempts = [c.status for c in fake_api.calls if c.method == "sendMessage"]
    assert attempts == [429, 200]


async def test_network_failure_is_retried_with_backoff(running, fake_api):
    bot = await running()
    fake_api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    await bot.bot.services.transports.send(Address("telegram", "5"), Reply("third time lucky"))
    attempts = [c.status for c in fake_api.calls if c.method == "sendMessage"]
    assert attempts == [502, 502, 200]


async def test_lasting_network_failure_is_a_delivery_error(running, fake_api):
    bot = await running()
    fake_api.fail_next("sendMessage", 502, "Bad Gateway", times=3)
    with pytest.raises(DeliveryError, match="could not be reached") as caught:
        await bot.bot.services.transports.send(Address("telegram", "5"), Reply("lost"))
    assert not isinstance(caught.value, ChatUnavailable)


async def test_blocked_bot_marks_the_chat_inactive_and_pauses_its_reminders(running, fake_api, db):
    bot = await running()
    kept = await add_reminder(db, "43")  # another chat: untouched
    paused = await add_reminder(db, str(PRIVATE))
    fake_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await fake_api.push(message(PRIVATE, "/echo anyone there?"))
    await fake_api.wait_for(status=403, chat_id=str(PRIVATE))
    await bot.transport.wait_idle()  # the reply's handler records the refusal
    assert await reminder_status(db, paused) == ReminderStatus.PAUSED
    assert await reminder_status(db, kept) == ReminderStatus.PENDING
    async with db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.external_id == str(PRIVATE)))
    assert chat is not None and not chat.active
    assert "blocked" in (chat.inactive_reason or "")


async def test_proactive_send_to_a_vanished_chat_is_chat_unavailable(running, fake_api):
    bot = await running()
    fake_api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(ChatUnavailable):
        await bot.bot.services.transports.send(Address("telegram", "-1"), Reply("hello?"))


async def test_removal_from_a_group_pauses_reminders_at_once(running, fake_api, db):
    await running()
    paused = await add_reminder(db, "-100900")
    member = {"user": {"id": 999, "is_bot": True, "first_name": "Seq"}}
    change = {
        "chat": {"id": -100900, "type": "supergroup", "title": "Team"},
        "from": user(),
        "date": 0,
        "old_chat_member": {**member, "status": "member"},
        "new_chat_member": {**member, "status": "kicked", "until_date": 0},
    }
    await fake_api.push({"my_chat_member": change})

    async def is_paused() -> bool:
        return await reminder_status(db, paused) == ReminderStatus.PAUSED

    await eventually(is_paused)
    assert await reminder_status(db, paused) == ReminderStatus.PAUSED


async def test_a_send_during_start_waits_for_the_transport(telegram_settings, fake_api):
    transport = make_transport(telegram_settings)
    with pytest.raises(DeliveryError, match="not running"):  # never started: fails at once
        await transport.send(Address("telegram", "5"), Reply("too early"))

    class FakeBot:  # start() only reads the registered commands before updates flow
        plugins = registry()

        async def idle(self, timeout: float | None = None) -> None:
            """Nothing was received, so nothing is in progress when stop() asks."""

    get_me = fake_api.hold("getMe")
    starting = asyncio.create_task(transport.start(FakeBot()))  # type: ignore[arg-type]
    await fake_api.wait_until(lambda: "getMe" in fake_api.received)  # start() is under way
    sending = asyncio.create_task(transport.send(Address("telegram", "5"), Reply("right on time")))
    get_me.set()
    sent_id = await sending
    await starting
    # The send was made while start() waited for getMe, and went out once start() was done.
    assert [c.method for c in fake_api.calls] == [
        "getMe",
        *["setMyCommands"] * (1 + len(MENU_LANGUAGES)),  # English, then one per language
        "deleteWebhook",
        "sendMessage",
    ]
    assert fake_api.sent(chat_id="5")[0].params["text"] == "right on time"
    assert sent_id == "5000"
    await transport.stop()
