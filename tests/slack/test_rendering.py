"""Slack mrkdwn rendering and payload parsing, without a network."""

from __future__ import annotations

from bot.messages import Button, ChatKind, Reply
from bot.transports.slack.payloads import BotIdentity, event_message, plain_text
from bot.transports.slack.rendering import SECTION_LIMIT, slack_messages

ME = BotIdentity("UBOT", "BBOT")


def test_markup_becomes_escaped_mrkdwn() -> None:
    [message] = slack_messages(Reply("**a<b** & `x>y` [site](https://e.example/?a=1&b=2)\n- item"))
    [block] = message.blocks
    assert block["text"]["text"] == (
        "*a&lt;b* &amp; `x&gt;y` <https://e.example/?a=1&amp;b=2|site>\n• item"
    )
    assert message.text == block["text"]["text"]


def test_code_blocks_are_fenced() -> None:
    [message] = slack_messages(Reply("```\nif a < b:\n    pass\n```"))
    assert message.blocks[0]["text"]["text"] == "```\nif a &lt; b:\n    pass\n```"


def test_escaping_never_pushes_a_section_over_the_limit() -> None:
    [message] = slack_messages(Reply("<&> " * 1500))
    texts = [b["text"]["text"] for b in message.blocks]
    assert len(texts) > 1
    assert all(len(t) <= SECTION_LIMIT for t in texts)


def test_buttons_go_under_the_last_message_only() -> None:
    reply = Reply("\n\n".join(["x" * 2900] * 55), buttons=(Button("Done", "remind:done:1"),))
    messages = slack_messages(reply)
    assert len(messages) == 2
    assert [b["type"] for b in messages[0].blocks].count("actions") == 0
    assert messages[1].blocks[-1] == {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "seqbot:0",
                      "text": {"type": "plain_text", "text": "Done"},
                      "value": "remind:done:1"}],
    }  # fmt: skip


def test_buttons_without_text_still_have_a_section() -> None:
    [message] = slack_messages(Reply("", buttons=(Button("Go", "t:go"),)))
    assert [b["type"] for b in message.blocks] == ["section", "actions"]
    assert slack_messages(Reply("")) == []


def test_slack_wire_text_becomes_plain_text() -> None:
    text = "hi <@U2|bob> in <#C1|general> &lt;3 &amp; <!here> see <https://x.example|docs>"
    assert plain_text(text) == "hi @bob in #general <3 & @here see docs (https://x.example)"
    assert plain_text("<mailto:a@b.example|a@b.example>") == "a@b.example"


def test_a_mention_of_the_bot_is_moved_to_the_front() -> None:
    assert plain_text("hey <@UBOT> translate this", ME) == "<@UBOT> hey translate this"
    assert plain_text("<@UBOT|seqbot>: help", ME) == "<@UBOT> : help"
    assert plain_text("no mention", ME) == "no mention"


def test_event_routing_rules() -> None:
    def ev(**fields: object) -> dict[str, object]:
        return {"type": "message", "user": "U1", "text": "hi", "ts": "1.0", "channel": "C1",
                "channel_type": "channel", **fields}  # fmt: skip

    chatter = event_message(ev(), ME, "Alice")
    assert chatter is not None and not chatter.addressed and chatter.user_name == "Alice"
    dm = event_message(ev(channel="D1", channel_type="im"), ME, "Alice")
    assert dm is not None and dm.addressed and dm.chat_kind == ChatKind.PRIVATE
    # The mention arrives twice (message + app_mention): only app_mention counts.
    assert event_message(ev(text="<@UBOT> hi"), ME, "") is None
    mention = event_message(ev(type="app_mention", text="<@UBOT> hi"), ME, "")
    assert mention is not None and mention.addressed and mention.chat_kind == ChatKind.GROUP
    dm_mention = ev(type="app_mention", channel="D1")
    del dm_mention["channel_type"]  # app_mention events have none
    assert event_message(dm_mention, ME, "") is None
    assert event_message(ev(subtype="message_deleted"), ME, "") is None
    assert event_message(ev(bot_id="BOTHER"), ME, "") is None
    thread = event_message(ev(thread_ts="0.5"), ME, "")
    assert thread is not None and thread.thread_id == "0.5"
