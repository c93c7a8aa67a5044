"""Socket Mode: start-up through apps.connections.open and one command over a loopback WebSocket."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

from bot.app import open_bot, start_transport
from bot.transports.base import TransportStartError
from bot.transports.slack import SlackTransport
from tasks.reminders import Reminders
from tests.fixtures.tasks import Echo, registry
from tests.slack.conftest import (
    APP_TOKEN,
    Failure,
    command_form,
    event_body,
    home_opened,
    message_shortcut,
    slack_settings,
)


async def test_socket_mode_dispatches_a_command_and_an_event(db, settings, fake_slack) -> None:
    local = slack_settings(
        settings, fake_slack, slack_app_token=SecretStr(APP_TOKEN), slack_signing_secret=None
    )
    async with open_bot(
        local, db=db, plugins=registry(Echo()), with_engine=False, with_reminders=False
    ) as bot:
        transport = SlackTransport(local)
        await start_transport(bot, transport)
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)

        [opened] = fake_slack.called("apps.connections.open")
        assert opened["_auth"] == f"Bearer {APP_TOKEN}"
        assert transport.http_port is None  # no HTTP endpoint in Socket Mode

        form = command_form("/echo", "over the socket", "U1", "alice", "C1",
                            fake_slack.response_url())  # fmt: skip
        envelope = await fake_slack.push_envelope("slash_commands", form)
        ack = await asyncio.wait_for(fake_slack.socket_replies.get(), 10)
        assert ack["envelope_id"] == envelope
        assert ack["payload"]["blocks"][0]["text"]["text"] == "over the socket"

        event = {"type": "message", "user": "U2", "text": "hi via socket", "ts": "3.1",
                 "channel": "D2", "channel_type": "im"}  # fmt: skip
        envelope = await fake_slack.push_envelope("events_api", event_body(event, "EvS1"))
        ack = await asyncio.wait_for(fake_slack.socket_replies.get(), 10)
        assert ack["envelope_id"] == envelope
        posted = await fake_slack.wait_for(lambda: fake_slack.called("chat.postMessage"))
        assert posted[0]["channel"] == "D2"
        assert json.dumps(posted[0]["blocks"]).count("hi via socket") == 1


async def test_rejected_app_token_is_a_start_error(settings, fake_slack) -> None:
    fake_slack.fail("apps.connections.open", Failure(error="invalid_auth"))
    local = slack_settings(
        settings, fake_slack, slack_app_token=SecretStr(APP_TOKEN), slack_signing_secret=None
    )

    with pytest.raises(TransportStartError, match=r"SEQBOT_SLACK_APP_TOKEN \(invalid_auth\)"):
        await SlackTransport(local).start(None)  # type: ignore[arg-type]
    assert not fake_slack.socket_connected.is_set()


async def test_socket_mode_opens_home_and_the_reminder_modal(db, settings, fake_slack) -> None:
    """The Home event and an interactive envelope reach the same listeners as over HTTP."""
    local = slack_settings(
        settings, fake_slack, slack_app_token=SecretStr(APP_TOKEN), slack_signing_secret=None
    )
    async with open_bot(
        local, db=db, plugins=registry(Reminders()), with_engine=False, with_reminders=False
    ) as bot:
        transport = SlackTransport(local)
        await start_transport(bot, transport)
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)

        await fake_slack.push_envelope("events_api", event_body(home_opened(), "EvH1"))
        [published] = await fake_slack.wait_for(lambda: fake_slack.called("views.publish"))
        assert published["user_id"] == "U1"

        message = {"ts": "1700000000.000100", "user": "U2", "text": "ship it"}
        shortcut = message_shortcut("seqbot_remind", message, fake_slack.response_url())
        envelope = await fake_slack.push_envelope("interactive", shortcut)
        ack = await asyncio.wait_for(fake_slack.socket_replies.get(), 10)
        while ack["envelope_id"] != envelope:  # the Home event's ack came first
            ack = await asyncio.wait_for(fake_slack.socket_replies.get(), 10)
        [opened] = await fake_slack.wait_for(lambda: fake_slack.called("views.open"))
        assert opened["view"]["blocks"][0]["element"]["initial_value"] == "ship it"
