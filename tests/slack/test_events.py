"""Events API through the real HTTP endpoint: mentions, DMs, chatter, retries, outgoing posts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.messages import Address, Button, Reply
from bot.transports.base import ChatUnavailable
from storage.models import Chat, Message, Reminder, ReminderStatus, utcnow
from tests.fixtures.tasks import Echo
from tests.slack.conftest import Failure, section_texts


async def stored(slack) -> list[Message]:
    async with slack.bot.services.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


def mention(text: str, *, channel: str = "C1", user: str = "U1", ts: str = "1.1") -> dict:
    return {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel}


def message(text: str, *, channel: str = "C1", channel_type: str = "channel", **extra) -> dict:
    return {"type": "message", "user": "U1", "text": text, "ts": "2.1", "channel": channel,
            "channel_type": channel_type, **extra}  # fmt: skip


async def test_mention_is_routed_to_the_task(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    posted = await slack.event(mention("<@UBOT> echo hi there"))
    assert posted.status == 200
    await slack.transport.wait_idle()

    [reply] = fake_slack.called("chat.postMessage")
    assert reply["channel"] == "C1"
    assert section_texts(reply) == ["hi there"]
    rows = await stored(slack)
    assert [(r.author_name, r.text, r.from_bot) for r in rows] == [
        ("Alice", "<@UBOT> echo hi there", False),
        ("seqbot", "hi there", True),
    ]


async def test_mention_in_a_thread_is_answered_in_the_thread(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    event = mention("<@UBOT> echo this", ts="5.2") | {"thread_ts": "5.0"}

    await slack.event(event)
    await slack.transport.wait_idle()

    [reply] = fake_slack.called("chat.postMessage")
    assert reply["thread_ts"] == "5.0"
    assert section_texts(reply) == ["this"]


async def test_direct_message_goes_to_the_default_task(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    await slack.event(message("good morning", channel="D1", channel_type="im"))
    await slack.transport.wait_idle()

    [reply] = fake_slack.called("chat.postMessage")
    assert (reply["channel"], section_texts(reply)) == ("D1", ["good morning"])


async def test_channel_chatter_is_stored_but_not_answered(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    await slack.event(message("lunch at <https://food.example|the usual place>?"))
    # The same text also arrives as app_mention when it names the bot; only that one counts.
    await slack.event(message("<@UBOT> echo once"))
    await slack.transport.wait_idle()

    assert fake_slack.called("chat.postMessage") == []
    rows = await stored(slack)
    assert [(r.author_name, r.text) for r in rows] == [
        ("Alice", "lunch at the usual place (https://food.example)?")
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"bot_id": "B999"},
        {"subtype": "bot_message"},
        {"user": "UBOT"},
        {"subtype": "message_changed"},
        {"subtype": "channel_join"},
    ],
)
async def test_bot_and_system_messages_are_ignored(make_slack, fake_slack, extra) -> None:
    slack = await make_slack(tasks=[Echo()])

    await slack.event(message("hello", channel="D1", channel_type="im", **extra))
    await slack.transport.wait_idle()

    assert await stored(slack) == []
    assert fake_slack.called("chat.postMessage") == []


async def test_url_verification_is_answered(make_slack) -> None:
    slack = await make_slack()
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "x", "challenge": challenge, "type": "url_verification"})

    posted = await slack.post_signed(body, "application/json")

    assert posted.status == 200
    assert posted.json() == {"challenge": challenge}


async def test_a_retried_event_is_handled_once(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    event = mention("<@UBOT> echo once")

    first = await slack.event(event, event_id="Ev42")
    retry = await slack.event(event, event_id="Ev42", retry=1)
    await slack.transport.wait_idle()

    assert (first.status, retry.status) == (200, 200)
    assert len(fake_slack.called("chat.postMessage")) == 1
    assert len(await stored(slack)) == 2  # the question and the one answer


async def test_proactive_send_posts_rendered_mrkdwn_with_buttons(make_slack, fake_slack) -> None:
    slack = await make_slack()
    reply = Reply(
        "**Hi** <you> & [docs](https://x.example/a|b) `code`",
        buttons=(Button("Done", "remind:done:7"),),
    )

    ts = await slack.bot.services.transports.send(Address("slack", "C9", "9.0"), reply)

    [posted] = fake_slack.called("chat.postMessage")
    assert ts == "1700000000.000001"  # the ts Slack gave the message
    assert (posted["channel"], posted["thread_ts"]) == ("C9", "9.0")
    assert section_texts(posted) == ["*Hi* &lt;you&gt; &amp; <https://x.example/a%7Cb|docs> `code`"]
    assert posted["blocks"][-1]["elements"][0]["value"] == "remind:done:7"


async def test_rate_limited_post_is_retried_after_retry_after(make_slack, fake_slack) -> None:
    slack = await make_slack()
    fake_slack.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=0))

    ts = await slack.bot.services.transports.send(Address("slack", "C1"), Reply("later"))

    assert ts == "1700000000.000001"  # the ts of the one message that was posted
    assert len(fake_slack.called("chat.postMessage")) == 2


async def test_long_text_is_split_into_sections_and_messages(make_slack, fake_slack) -> None:
    slack = await make_slack()
    paragraph = "word " * 500  # 2,500 characters
    text = "\n\n".join([paragraph.strip()] * 60)

    await slack.bot.services.transports.send(Address("slack", "C1"), Reply(text))

    posts = fake_slack.called("chat.postMessage")
    assert len(posts) == 2
    sections = [s for p in posts for s in section_texts(p)]
    assert len(sections) == 60
    assert all(len(s) <= 3000 for s in sections)
    assert all(len(p["blocks"]) <= 50 for p in posts)


async def test_channel_not_found_pauses_the_channels_reminders(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    async with slack.bot.services.db.session() as session:
        session.add(
            Reminder(
                platform="slack",
                chat_external_id="C404",
                text="standup",
                due_at=utcnow() + timedelta(hours=1),
            )
        )
    fake_slack.fail("chat.postMessage", Failure(error="channel_not_found", channel="C404"))

    with pytest.raises(ChatUnavailable):
        await slack.bot.services.transports.send(Address("slack", "C404"), Reply("hello?"))
    # A reply that fails the same way makes the core pause the channel's reminders.
    await slack.event(mention("<@UBOT> echo hi", channel="C404"))
    await slack.transport.wait_idle()

    async with slack.bot.services.db.session() as session:
        reminder = await session.scalar(select(Reminder))
        chat = await session.scalar(select(Chat).where(Chat.external_id == "C404"))
    assert reminder is not None and reminder.status == ReminderStatus.PAUSED
    assert chat is not None and not chat.active


async def test_other_api_errors_are_delivery_errors(make_slack, fake_slack) -> None:
    from bot.transports.base import DeliveryError

    slack = await make_slack()
    fake_slack.fail("chat.postMessage", Failure(error="msg_too_long"))

    with pytest.raises(DeliveryError) as raised:
        await slack.bot.services.transports.send(Address("slack", "C1"), Reply("hi"))
    assert not isinstance(raised.value, ChatUnavailable)


async def test_events_outside_the_allow_list_are_dropped(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[Echo()], slack_allowed_channels=["C2"])

    await slack.event(mention("<@UBOT> echo hi", channel="C1"))
    await slack.transport.wait_idle()

    assert await stored(slack) == []
    assert fake_slack.called("chat.postMessage") == []


async def test_unknown_user_is_stored_under_their_id(make_slack, fake_slack) -> None:
    slack = await make_slack()

    await slack.event(message("hi all") | {"user": "U404"})
    await slack.transport.wait_idle()

    assert [(r.author_name, r.text) for r in await stored(slack)] == [("U404", "hi all")]
    assert fake_slack.called("users.info")[0]["user"] == "U404"
