"""Reminders through Telegram end to end: the real dispatcher posts to the stored chat.

The reminder rows are inserted directly, as ``/remind`` would store them, so
these tests cover delivery (chat, buttons, a blocked bot) rather than parsing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import Chat, ReminderStatus
from tasks.reminders import Reminders
from tests.telegram.conftest import add_reminder, registry, reminder_status
from tests.telegram.fake_api import bot_message, user

#: Due a second ago: the dispatcher sends it on its next round.
DUE = -timedelta(seconds=1)


async def start_with_reminders(running):
    bot = await running(plugins=registry(Reminders()), with_reminders=True)
    return bot, bot.bot.services.reminders


async def test_due_reminder_is_posted_to_its_chat_with_buttons(running, fake_api, db):
    reminder_id = await add_reminder(
        db, "-100314", "stand-up in 5 minutes", due_in=DUE, thread_id="7"
    )
    bot, dispatcher = await start_with_reminders(running)
    dispatcher.wake()
    [posted] = await fake_api.wait_for(chat_id="-100314")
    assert "stand-up in 5 minutes" in posted.params["text"]
    assert posted.params["message_thread_id"] == 7
    buttons = posted.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons][-1] == f"remind:done:{reminder_id}"
    await dispatcher.idle()
    assert await reminder_status(db, reminder_id) == ReminderStatus.SENT

    # Pressing a button reaches the reminders task and stops the spinner.
    shown = bot_message(-100314, posted.params["text"], message_id=5000)
    press = {"id": "r1", "from": user(), "chat_instance": "ci", "message": shown}
    await fake_api.push({"callback_query": {**press, "data": buttons[0]["callback_data"]}})
    await fake_api.wait_for("answerCallbackQuery", callback_query_id="r1")
    await fake_api.wait_for(chat_id="-100314", count=2)
    await bot.transport.wait_idle()


async def test_blocked_bot_pauses_the_chats_reminders(running, fake_api, db):
    blocked = await add_reminder(db, "271", "call mum", due_in=DUE)
    later = await add_reminder(db, "271", "call dad", due_in=timedelta(days=1))
    async with db.session() as session:
        session.add(Chat(platform="telegram", external_id="271", kind="private"))
    fake_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id="271")
    _, dispatcher = await start_with_reminders(running)
    dispatcher.wake()
    await fake_api.wait_for(status=403, chat_id="271")
    await dispatcher.idle()
    assert await reminder_status(db, blocked) == ReminderStatus.PAUSED
    assert await reminder_status(db, later) == ReminderStatus.PAUSED
    async with db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.external_id == "271"))
    assert chat is not None and not chat.active
