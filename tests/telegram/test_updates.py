"""Which Telegram messages reach the core, and when the bot counts as addressed."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Message

from bot.messages import ChatKind
from bot.transports.telegram.updates import BotIdentity, incoming_message
from tests.telegram.fake_api import BOT_ID, BOT_USERNAME, message

ME = BotIdentity(BOT_ID, BOT_USERNAME)


def parse(body: dict) -> Message:
    return Message.de_json(body, None)


def test_group_message_fields():
    body = message(-100, "hello all")["message"]
    incoming = incoming_message(parse(body), ME)
    assert incoming is not None
    assert (incoming.platform, incoming.chat_id, incoming.chat_kind) == (
        "telegram",
        "-100",
        ChatKind.GROUP,
    )
    assert (incoming.user_id, incoming.user_name, incoming.text) == ("42", "Alice", "hello all")
    assert incoming.message_id == str(body["message_id"]) and not incoming.addressed
    assert incoming.received_at == datetime.fromtimestamp(body["date"], UTC)  # aware, in UTC


def test_mention_in_a_caption_addresses_the_bot():
    body = message(-100, "x")["message"]
    del body["text"]
    caption = f"look @{BOT_USERNAME.upper()}"
    body["caption"] = caption
    body["caption_entities"] = [{"type": "mention", "offset": 5, "length": len(BOT_USERNAME) + 1}]
    incoming = incoming_message(parse(body), ME)
    assert incoming is not None and incoming.addressed and incoming.text == caption


def test_other_mentions_and_other_bots_commands_do_not_address_the_bot():
    for text in ("@someone_else hi", "/echo@other_bot hi", f"@{BOT_USERNAME}fan hi"):
        incoming = incoming_message(parse(message(-100, text)["message"]), ME)
        assert incoming is not None and not incoming.addressed, text


def test_text_mention_of_the_bot_addresses_it():
    body = message(-100, "Seq, help")["message"]
    body["entities"] = [
        {
            "type": "text_mention",
            "offset": 0,
            "length": 3,
            "user": {"id": BOT_ID, "is_bot": True, "first_name": "Seq"},
        }
    ]
    assert incoming_message(parse(body), ME).addressed


def test_media_without_text_is_skipped_in_groups_but_not_in_private_chats():
    group = message(-100, "x")["message"]
    del group["text"]
    assert incoming_message(parse(group), ME) is None
    private = message(42, "x")["message"]
    del private["text"]
    assert incoming_message(parse(private), ME) is None  # a service message: nothing to say
    sticker = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}
    sticker |= {"is_animated": False, "is_video": False, "type": "regular"}
    incoming = incoming_message(parse({**private, "sticker": sticker}), ME)
    assert incoming is not None and incoming.text == "" and incoming.addressed


def test_channel_posts_come_from_the_channel():
    body = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": -1001, "type": "channel", "title": "News"},
        "sender_chat": {"id": -1001, "type": "channel", "title": "News"},
        "text": f"/echo@{BOT_USERNAME} hi",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6 + len(BOT_USERNAME)}],
    }
    incoming = incoming_message(parse(body), ME)
    assert incoming is not None and incoming.chat_kind == ChatKind.CHANNEL
    assert (incoming.user_id, incoming.user_name, incoming.addressed) == ("-1001", "News", True)


def test_reply_to_the_bot_is_quoted_with_its_text():
    original = {
        "message_id": 9,
        "date": 0,
        "chat": {"id": -100, "type": "supergroup"},
        "text": "4 pm",
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Seq"},
    }
    incoming = incoming_message(
        parse(message(-100, "thanks", reply_to_message=original)["message"]), ME
    )
    assert incoming is not None and incoming.addressed
    assert incoming.reply_to is not None
    assert (incoming.reply_to.message_id, incoming.reply_to.text, incoming.reply_to.from_bot) == (
        "9",
        "4 pm",
        True,
    )


def test_a_document_is_described_and_fetched_only_when_read():
    body = message(42, "x")["message"]
    del body["text"]
    body["document"] = {
        "file_id": "f1",
        "file_unique_id": "u1",
        "file_name": "notes.md",
        "mime_type": "text/markdown",
        "file_size": 12,
    }
    fetched: list[str] = []

    async def download(file_id: str) -> bytes:
        fetched.append(file_id)
        return b"# notes"

    incoming = incoming_message(parse(body), ME, download)
    assert incoming is not None and incoming.text == ""
    [file] = incoming.attachments
    assert (file.name, file.mime_type, file.size) == ("notes.md", "text/markdown", 12)
    assert not fetched
    assert incoming_message(parse(body), ME).attachments == ()  # nothing to download with
    unnamed = {**body, "document": {"file_id": "f2", "file_unique_id": "u2"}}
    [nameless] = incoming_message(parse(unnamed), ME, download).attachments
    assert (nameless.name, nameless.mime_type, nameless.size) == ("document-u2", None, None)
