"""``/seqbot remind`` alone opens a modal; its submission is checked, then becomes a reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.errors import UserError
from storage.models import Reminder
from tasks.reminders import Reminders
from tasks.reminders.forms import ReminderForm, schedule
from tests.slack.conftest import (
    SLOW_START_ACK_BUDGET,
    section_texts,
    text_value,
    view_submission,
)
from tests.slack.test_home import views


def fields(
    text: str = "water the plants",
    day: str | None = None,
    clock: str | None = "09:30",
    repeat: str = "none",
) -> dict[str, dict[str, dict[str, Any]]]:
    """The modal's ``state.values`` as Slack sends them (an unpicked picker holds null)."""
    date_state: dict[str, Any] = {"type": "datepicker", "selected_date": day}
    time_state: dict[str, Any] = {"type": "timepicker", "selected_time": clock}
    option = {"text": {"type": "plain_text", "text": repeat}, "value": repeat}
    return {
        "text": {"value": text_value(text)},
        "date": {"value": date_state},
        "time": {"value": time_state},
        "repeat": {"value": {"type": "static_select", "selected_option": option}},
    }


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


async def open_modal(slack, fake_slack, channel: str = "C5") -> tuple[dict[str, Any], str]:  # type: ignore[no-untyped-def]
    ack, response_url = await slack.command("/seqbot", "remind", channel=channel)
    assert ack.status == 200 and ack.body == ""
    await slack.transport.wait_idle()
    [opened] = fake_slack.called("views.open")
    assert opened["trigger_id"]
    [modal] = views(fake_slack, "views.open")
    return modal, response_url


async def reminder_count(slack) -> int:  # type: ignore[no-untyped-def]
    async with slack.bot.services.db.session() as session:
        return int(await session.scalar(select(func.count(Reminder.id))) or 0)


async def test_remind_without_arguments_opens_the_modal(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Reminders()], with_reminders=True)

    modal, _ = await open_modal(slack, fake_slack)

    assert modal["callback_id"] == "seqbot_remind"
    inputs = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}
    assert inputs["text"]["type"] == "plain_text_input"
    assert inputs["date"]["type"] == "datepicker" and inputs["time"]["type"] == "timepicker"
    repeats = [option["value"] for option in inputs["repeat"]["options"]]
    assert repeats == ["none", "daily", "weekdays", "weekly", "monthly"]
    assert fake_slack.responses == [] and await reminder_count(slack) == 0


async def test_remind_with_arguments_still_answers_in_the_ack(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Reminders()], ack_budget=SLOW_START_ACK_BUDGET)

    ack, _ = await slack.command("/seqbot", "remind list")

    assert section_texts(ack.json())[0].startswith("You have no reminders here.")
    assert fake_slack.called("views.open") == []


async def test_bad_submissions_get_field_errors(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Reminders()], with_reminders=True)
    modal, _ = await open_modal(slack, fake_slack)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()

    empty = await slack.interact(view_submission(modal, fields(text="", day=None)))
    past = await slack.interact(view_submission(modal, fields(day=yesterday)))
    no_time = await slack.interact(view_submission(modal, fields(day=tomorrow(), clock=None)))

    assert empty.json()["response_action"] == "errors"
    assert set(empty.json()["errors"]) == {"text", "date"}
    assert past.json() == {
        "response_action": "errors",
        "errors": {"time": "That time is already past (UTC)."},
    }
    assert set(no_time.json()["errors"]) == {"time"}
    await slack.transport.wait_idle()
    assert await reminder_count(slack) == 0 and fake_slack.responses == []


async def test_submission_creates_the_reminder_and_confirms_it_privately(
    make_slack, fake_slack
) -> None:
    slack = await make_slack(tasks=[Reminders()], with_reminders=True)
    modal, response_url = await open_modal(slack, fake_slack)
    submission = view_submission(modal, fields(day=tomorrow(), repeat="weekdays"))

    accepted = await slack.interact(submission)
    replayed = await slack.interact(submission)

    assert accepted.status == 200 and accepted.body == ""
    assert replayed.status == 200
    await slack.transport.wait_idle()
    async with slack.bot.services.db.session() as session:
        [reminder] = (await session.scalars(select(Reminder))).all()
    assert (reminder.chat_external_id, reminder.text) == ("C5", "water the plants")
    assert reminder.rrule == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=30;BYSECOND=0"
    local = reminder.due_at.astimezone(UTC)
    assert (local.hour, local.minute) == (9, 30) and local.weekday() < 5
    [(url, confirmation)] = fake_slack.responses
    assert url == response_url and confirmation["response_type"] == "ephemeral"
    text = section_texts(confirmation)[0]
    assert text.startswith(f"OK, reminder #{reminder.id}: *water the plants*")
    assert "Repeats: every weekday at 09:30" in text


def test_form_schedule_checks_again_and_builds_each_repetition() -> None:
    now = datetime(2030, 1, 4, 12, 0, tzinfo=UTC)  # a Friday

    def planned(repeat: str, day: str = "2030-01-05") -> tuple[datetime, str | None]:
        form = ReminderForm(text="x", date=day, time="08:15", repeat=repeat)
        return schedule(form, "Europe/Berlin", now=now, max_years=5)

    due, rrule = planned("none")
    assert due == datetime(2030, 1, 5, 7, 15, tzinfo=UTC) and rrule is None
    assert planned("daily")[1] == "FREQ=DAILY;BYHOUR=8;BYMINUTE=15;BYSECOND=0"
    assert planned("weekly")[1] == "FREQ=WEEKLY;BYDAY=SA;BYHOUR=8;BYMINUTE=15;BYSECOND=0"
    assert planned("monthly")[1] == "FREQ=MONTHLY;BYMONTHDAY=5;BYHOUR=8;BYMINUTE=15;BYSECOND=0"
    monday, _ = planned("weekdays")  # picked on a Saturday: the first is on Monday
    assert monday == datetime(2030, 1, 7, 7, 15, tzinfo=UTC)
    for day, wrong in (("2030-01-03", "past"), ("2040-01-01", "years ahead")):
        with pytest.raises(UserError, match=wrong):
            planned("none", day)
    with pytest.raises(UserError):
        ReminderForm.from_payload(
            '{"text": "x", "date": "2030-01-05", "time": "8", "repeat": "hourly"}'
        )
    payload = ReminderForm("tea", "2030-01-05", "08:15", "daily", "https://x.example/p1").payload()
    assert ReminderForm.from_payload(payload).full_text == "tea (https://x.example/p1)"
