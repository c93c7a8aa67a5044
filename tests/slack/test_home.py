"""The Home tab: published on ``app_home_opened``, working buttons, settings, kept up to date."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.models import Reminder, ReminderStatus, User
from tasks.reminders import Reminders
from tests.slack.conftest import (
    SLOW_START_ACK_BUDGET,
    home_opened,
    section_texts,
    text_value,
    view_press,
    view_submission,
)


def views(fake_slack, method: str = "views.publish") -> list[dict[str, Any]]:
    """The views sent with ``method`` (slack_sdk sends them as JSON objects)."""
    found = []
    for params in fake_slack.called(method):
        view = params["view"]
        found.append(json.loads(view) if isinstance(view, str) else view)
    return found


def home_text(view: dict[str, Any]) -> str:
    return "\n".join(section_texts(view))


def buttons(view: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Every button on a view: label + block id → (action id, value)."""
    found = {}
    for block in view["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        accessory = block.get("accessory")
        for element in [*elements, *([accessory] if accessory else [])]:
            if element["type"] == "button":
                key = f"{element['text']['text']} {block.get('block_id', '')}".strip()
                found[key] = (element["action_id"], element["value"])
    return found


async def reminders_bot(make_slack):  # type: ignore[no-untyped-def]
    return await make_slack(
        tasks=[Reminders()], with_reminders=True, ack_budget=SLOW_START_ACK_BUDGET
    )


async def open_home(slack, fake_slack, user: str = "U1") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    before = len(fake_slack.called("views.publish"))
    posted = await slack.event(home_opened(user=user, channel="D1"))
    assert posted.status == 200
    await slack.transport.wait_idle()
    published = fake_slack.called("views.publish")
    assert len(published) == before + 1 and published[-1]["user_id"] == user
    return views(fake_slack)[-1]


async def only_reminder(slack) -> Reminder:  # type: ignore[no-untyped-def]
    async with slack.bot.services.db.session() as session:
        [reminder] = (await session.scalars(select(Reminder))).all()
        return reminder


async def test_home_lists_reminders_settings_and_commands(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)
    await slack.command("/remind", "me in 10 minutes to stretch", channel="C5")
    await slack.transport.wait_idle()
    assert fake_slack.called("views.publish") == []  # nobody opened Home yet

    view = await open_home(slack, fake_slack)

    assert view["type"] == "home" and view["private_metadata"] == "D1"
    text = home_text(view)
    reminder = await only_reminder(slack)
    assert f"*#{reminder.id}* stretch" in text
    assert "*Time zone:* UTC (default)" in text and "*Language:* English (en)" in text
    assert "`/remind`" in text and "`/settings`" in text
    found = buttons(view)
    assert found[f"Cancel reminder_{reminder.id}"][1] == f"remind:cancel:{reminder.id}"
    assert found[f"Snooze 1 h reminder_{reminder.id}"][1] == f"remind:snooze:{reminder.id}:1h"
    assert "Change" in found


async def test_home_follows_new_reminders_of_its_user_only(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)
    await open_home(slack, fake_slack)
    assert "No upcoming reminders" in home_text(views(fake_slack)[-1])

    await slack.command("/remind", "me in 2 hours to call Anna", channel="C5")
    await slack.transport.wait_idle()
    assert "call Anna" in home_text(views(fake_slack)[-1])
    published = len(fake_slack.called("views.publish"))

    await slack.command("/remind", "me in 5 minutes to water plants", user="U2", channel="C5")
    await slack.transport.wait_idle()
    assert len(fake_slack.called("views.publish")) == published  # U2 never opened Home


async def test_cancel_and_snooze_on_home_work_and_refresh_it(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)
    await slack.command("/remind", "me in 10 minutes to stretch", channel="C5")
    await slack.command("/remind", "me in 20 minutes to drink water", channel="C5")
    view = await open_home(slack, fake_slack)
    async with slack.bot.services.db.session() as session:
        first, second = (await session.scalars(select(Reminder).order_by(Reminder.id))).all()
    found = buttons(view)

    action, value = found[f"Snooze 1 h reminder_{first.id}"]
    assert (await slack.interact(view_press(action, value, view))).status == 200
    await slack.transport.wait_idle()
    [snoozed] = fake_slack.called("chat.postMessage")
    assert snoozed["channel"] == "D1"  # the answer goes to the DM with the bot
    assert section_texts(snoozed)[0].startswith(f"Snoozed: #{first.id} stretch")
    async with slack.bot.services.db.session() as session:
        moved = await session.get(Reminder, first.id)
        assert moved is not None and moved.due_at > first.due_at
    refreshed = views(fake_slack)[-1]
    assert home_text(refreshed).index("drink water") < home_text(refreshed).index("stretch")

    action, value = buttons(refreshed)[f"Cancel reminder_{second.id}"]
    await slack.interact(view_press(action, value, refreshed))
    await slack.transport.wait_idle()
    cancelled = fake_slack.called("chat.postMessage")[-1]
    assert section_texts(cancelled)[0] == f"Cancelled reminder #{second.id}: drink water"
    assert "drink water" not in home_text(views(fake_slack)[-1])
    async with slack.bot.services.db.session() as session:
        gone = await session.get(Reminder, second.id)
        assert gone is not None and gone.status == ReminderStatus.CANCELLED


async def test_settings_modal_checks_fields_and_changes_settings(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)
    view = await open_home(slack, fake_slack)
    action, value = buttons(view)["Change"]

    await slack.interact(view_press(action, value, view))
    await slack.transport.wait_idle()
    [opened] = fake_slack.called("views.open")
    [modal] = views(fake_slack, "views.open")
    assert opened["trigger_id"] and modal["callback_id"] == "seqbot_settings"
    assert modal["private_metadata"] == "D1"

    bad = {"timezone": {"value": text_value("Mars/Olympus")}, "language": {"value": text_value("")}}
    refused = await slack.interact(view_submission(modal, bad))
    body = refused.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"timezone", "language"}
    await slack.transport.wait_idle()
    assert fake_slack.called("chat.postMessage") == []

    good = {
        "timezone": {"value": text_value("Europe/Berlin")},
        "language": {"value": text_value("German")},
    }
    accepted = await slack.interact(view_submission(modal, good))
    assert accepted.status == 200 and accepted.body == ""
    await slack.transport.wait_idle()
    said = [section_texts(p)[0] for p in fake_slack.called("chat.postMessage")]
    assert said == ["Time zone set to Europe/Berlin.", "Language set to German (de)."]
    async with slack.bot.services.db.session() as session:
        user = await session.scalar(select(User).where(User.external_id == "U1"))
        assert user is not None and (user.timezone, user.language) == ("Europe/Berlin", "de")
    text = home_text(views(fake_slack)[-1])
    assert "*Time zone:* Europe/Berlin\n" in text and "German (de)" in text


async def test_messages_tab_publishes_nothing(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)

    posted = await slack.event(home_opened(tab="messages"))

    assert posted.status == 200
    await slack.transport.wait_idle()
    assert fake_slack.called("views.publish") == []


async def test_channel_chatter_does_not_refresh_home(make_slack, fake_slack) -> None:
    slack = await reminders_bot(make_slack)
    await open_home(slack, fake_slack)

    chatter = {"type": "message", "user": "U1", "text": "lunch?", "ts": "5.1", "channel": "C1",
               "channel_type": "channel"}  # fmt: skip
    await slack.event(chatter)
    await slack.transport.wait_idle()
    dm = {"type": "message", "user": "U1", "text": "/remind list", "ts": "5.2", "channel": "D1",
          "channel_type": "im"}  # fmt: skip
    await slack.event(dm)
    await slack.transport.wait_idle()

    assert len(fake_slack.called("views.publish")) == 2  # on opening, and after the DM
