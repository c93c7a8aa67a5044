"""A signed request posted again, byte for byte, is handled once (by ``trigger_id``).

Slack's signature covers the body and a timestamp only, so a captured request
stays valid for five minutes; and a proxy may deliver one twice. Slash commands
and button presses carry a ``trigger_id`` unique to the user's action, claimed
in the database like event ids, so a second worker refuses the copy as well.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sqlalchemy import func, select

from storage.models import Reminder
from tasks.reminders import Reminders
from tests.fixtures.tasks import Echo
from tests.slack.conftest import (
    SLOW_START_ACK_BUDGET,
    action_payload,
    command_form,
    section_texts,
    signed_headers,
)

FORM = "application/x-www-form-urlencoded"


async def reminders(slack) -> int:
    async with slack.bot.services.db.session() as session:
        return await session.scalar(select(func.count()).select_from(Reminder)) or 0


async def test_a_replayed_slash_command_makes_one_reminder(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Reminders()], ack_budget=SLOW_START_ACK_BUDGET)
    form = command_form("/remind", "me in 10 minutes to stretch", "U1", "alice", "C1",
                        fake_slack.response_url())  # fmt: skip
    body = urlencode(form)
    headers = signed_headers(body, FORM)

    first = await slack.post_raw(body, headers)
    replay = await slack.post_raw(body, headers)
    await slack.transport.wait_idle()

    assert (first.status, replay.status) == (200, 200)
    assert "stretch" in section_texts(first.json())[0]
    assert replay.body == ""  # acknowledged, and nothing said
    assert await reminders(slack) == 1
    assert fake_slack.responses == []
    assert fake_slack.called("chat.postMessage") == []


async def test_a_replayed_button_press_is_answered_once(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    payload = action_payload("echo:chose:red", "U1", "C1", fake_slack.response_url("press"))
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(body, FORM)

    first = await slack.post_raw(body, headers)
    replay = await slack.post_raw(body, headers)
    await slack.transport.wait_idle()

    assert (first.status, replay.status) == (200, 200)
    [(_, answer)] = fake_slack.responses
    assert section_texts(answer) == ["You chose red."]


async def test_a_command_replayed_to_another_worker_runs_once(make_slack, fake_slack) -> None:
    """Two workers on one database, as behind a load balancer."""
    first_worker = await make_slack(tasks=[Echo()])
    second_worker = await make_slack(tasks=[Echo()])
    body = urlencode(command_form("/echo", "once", "U1", "alice", "C1", fake_slack.response_url()))
    headers = signed_headers(body, FORM)

    first = await first_worker.post_raw(body, headers)
    replay = await second_worker.post_raw(body, headers)

    assert section_texts(first.json()) == ["once"]
    assert replay.body == ""


async def test_different_commands_with_the_same_text_both_run(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    first, _ = await slack.command("/echo", "again")
    second, _ = await slack.command("/echo", "again")  # a new trigger_id: the user typed it twice

    assert section_texts(first.json()) == section_texts(second.json()) == ["again"]
