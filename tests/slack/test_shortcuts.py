"""Message shortcuts: acked at once, run through the core on the quoted message, shown privately."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.transports.slack.replies import WORKING
from storage.models import Reminder
from tasks.reminders import Reminders
from tasks.summarize import Summarize
from tasks.translate import Translate
from tests.slack.conftest import message_shortcut, section_texts, view_submission
from tests.slack.test_home import views
from tests.slack.test_remind_modal import fields, tomorrow
from tests.tasks.conftest import FakeEngine, FakePool

ROOT = "1700000000.000100"
GERMAN = {"ts": ROOT, "user": "U2", "text": "Guten Morgen, wie geht es dir heute?"}


@dataclass
class GatedEngine(FakeEngine):
    """A scripted engine that answers only once ``gate`` is set (the model is "slow")."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def generate_batch(self, texts, options=None):  # type: ignore[no-untyped-def]
        await self.gate.wait()
        return await super().generate_batch(texts, options)


def share_button(payload: dict) -> dict:  # type: ignore[type-arg]
    [button] = [
        element
        for block in payload["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "seqbot_share"
    ]
    return button


def ephemeral_press(value: str, response_url: str) -> dict:  # type: ignore[type-arg]
    """``block_actions`` from a button on an ephemeral message: Slack sends no message text."""
    return {
        "type": "block_actions", "team": {"id": "T0001"}, "api_app_id": "A0001",
        "user": {"id": "U1", "username": "alice", "name": "alice", "team_id": "T0001"},
        "channel": {"id": "C1", "name": "general"},
        "container": {"type": "message", "message_ts": "1700000001.000001", "channel_id": "C1",
                      "is_ephemeral": True},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0", "response_url": response_url,
        "actions": [{"type": "button", "action_id": "seqbot_share", "block_id": "b1",
                     "value": value, "action_ts": "1700000002.000001"}],
    }  # fmt: skip


async def test_translate_shortcut_is_private_and_can_be_posted_in_the_thread(
    make_slack, fake_slack
) -> None:
    engine = GatedEngine(answer=lambda prompt: "Good morning, how are you today?")
    slack = await make_slack(tasks=[Translate()], engine=FakePool(default=engine))
    response_url = fake_slack.response_url("translate")

    acked = await slack.interact(message_shortcut("seqbot_translate", GERMAN, response_url))

    assert acked.status == 200 and acked.body == ""  # acknowledged before the model answered
    engine.gate.set()
    await slack.transport.wait_idle()
    [[prompt]] = [call.prompts for call in engine.calls]
    assert "Guten Morgen, wie geht es dir heute?" in prompt
    [(url, working), (_, result)] = fake_slack.responses
    assert url == response_url and section_texts(working) == [WORKING]
    assert result["response_type"] == "ephemeral"
    assert section_texts(result) == ["*German → English*\nGood morning, how are you today?"]
    assert fake_slack.called("chat.postMessage") == []

    press = ephemeral_press(share_button(result)["value"], fake_slack.response_url("share"))
    await slack.interact(press)
    await slack.transport.wait_idle()
    [posted] = fake_slack.called("chat.postMessage")
    assert posted["channel"] == "C1" and posted["thread_ts"] == ROOT
    assert "Good morning, how are you today?" in section_texts(posted)[0]
    assert "(shared by Alice)" in section_texts(posted)[0]


async def test_summarize_shortcut_reads_the_thread(make_slack, fake_slack) -> None:
    engine = FakeEngine(answer=lambda prompt: "Alice and Bob agree to ship on Friday.")
    slack = await make_slack(tasks=[Summarize()], engine=FakePool(default=engine))
    reply = {"ts": "1700000000.000200", "thread_ts": ROOT, "user": "U2", "text": "Friday works"}
    fake_slack.threads[("C1", ROOT)] = [
        {"type": "message", "ts": ROOT, "user": "U1", "text": "Shall we ship on Friday?",
         "thread_ts": ROOT},
        {"type": "message", "bot_id": "B9", "ts": "1700000000.000150", "text": "CI passed"},
        {"type": "message", **reply},
    ]  # fmt: skip

    acked = await slack.interact(
        message_shortcut("seqbot_summarize", reply, fake_slack.response_url("sum"))
    )

    assert acked.status == 200
    await slack.transport.wait_idle()
    [replies] = fake_slack.called("conversations.replies")
    assert (replies["channel"], replies["ts"]) == ("C1", ROOT)
    prompt = engine.prompts()[0]
    assert "Alice: Shall we ship on Friday?\nBob: Friday works" in prompt
    assert "CI passed" not in prompt
    result = fake_slack.responses[-1][1]
    assert result["response_type"] == "ephemeral"
    assert section_texts(result)[0] == "*Summary*\nAlice and Bob agree to ship on Friday."
    assert json.loads(share_button(result)["value"])["t"] == ROOT


async def test_remind_shortcut_opens_the_modal_and_links_back(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Reminders()], with_reminders=True)
    message = {"ts": ROOT, "user": "U2", "text": "Please review <https://x.example/pr/7|PR 7>"}
    response_url = fake_slack.response_url("remind")

    acked = await slack.interact(message_shortcut("seqbot_remind", message, response_url))

    assert acked.status == 200 and acked.body == ""
    await slack.transport.wait_idle()
    [asked] = fake_slack.called("chat.getPermalink")
    assert (asked["channel"], asked["message_ts"]) == ("C1", ROOT)
    [modal] = views(fake_slack, "views.open")
    text_input = modal["blocks"][0]["element"]
    assert text_input["initial_value"] == "Please review PR 7 (https://x.example/pr/7)"

    await slack.interact(view_submission(modal, fields(text="Review PR 7", day=tomorrow())))
    await slack.transport.wait_idle()
    async with slack.bot.services.db.session() as session:
        [reminder] = (await session.scalars(select(Reminder))).all()
    link = "https://test.slack.com/archives/C1/p1700000000000100"
    assert reminder.text == f"Review PR 7 ({link})"
    assert reminder.chat_external_id == "C1"
    [(url, confirmation)] = fake_slack.responses
    assert url == response_url and confirmation["response_type"] == "ephemeral"
    assert "Review PR 7" in section_texts(confirmation)[0]


async def test_shortcut_from_a_user_not_allowed_does_nothing(make_slack, fake_slack) -> None:
    engine = FakeEngine()
    slack = await make_slack(
        tasks=[Translate()], engine=FakePool(default=engine), slack_allowed_users=["U9"]
    )

    acked = await slack.interact(
        message_shortcut("seqbot_translate", GERMAN, fake_slack.response_url())
    )

    assert acked.status == 200
    await slack.transport.wait_idle()
    assert engine.calls == [] and fake_slack.responses == []
