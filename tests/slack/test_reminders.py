"""Reminders made with /remind in Slack come back through chat.postMessage, with working buttons."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from storage.models import Reminder, ReminderStatus, utcnow
from tasks.reminders import Reminders
from tests.slack.conftest import SLOW_START_ACK_BUDGET, section_texts


async def reminder_status(slack) -> ReminderStatus | None:
    async with slack.bot.services.db.session() as session:
        return await session.scalar(select(Reminder.status))


async def test_reminder_is_delivered_to_the_stored_channel_and_done_works(
    make_slack, fake_slack
) -> None:
    slack = await make_slack(
        tasks=[Reminders()], with_reminders=True, ack_budget=SLOW_START_ACK_BUDGET
    )

    ack, _ = await slack.command("/remind", "me in 10 minutes to stretch", channel="C5")
    assert "stretch" in section_texts(ack.json())[0]
    async with slack.bot.services.db.session() as session:
        reminder = await session.scalar(select(Reminder))
        assert reminder is not None and reminder.chat_external_id == "C5"
        due = utcnow() - timedelta(seconds=1)  # pretend the ten minutes are over
        await session.execute(
            update(Reminder).where(Reminder.id == reminder.id).values(due_at=due, occurs_at=due)
        )
    slack.bot.services.reminders.wake()

    [posted] = await fake_slack.wait_for(lambda: fake_slack.called("chat.postMessage"))
    assert posted["channel"] == "C5"
    assert "stretch" in section_texts(posted)[0]
    buttons = {e["text"]["text"]: e["value"] for e in posted["blocks"][-1]["elements"]}
    # Stopping the dispatcher waits for the batch in flight, so its outcome is recorded.
    await slack.bot.services.reminders.stop()
    assert await reminder_status(slack) == ReminderStatus.SENT
    assert set(buttons) == {"Snooze 10 min", "Snooze 1 h", "Done"}

    await slack.press(buttons["Done"], channel="C5", response_url=fake_slack.response_url("done"))
    await slack.transport.wait_idle()
    [(_, answer)] = fake_slack.responses
    assert section_texts(answer)[0].startswith("Done:")
    assert await reminder_status(slack) == ReminderStatus.SENT
