"""Files for the knowledge base: ``message`` events with ``subtype: file_share`` (and mentions
with files), downloaded from ``url_private_download`` with the bot token."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.errors import UserError
from bot.messages import Attachment
from bot.transports.slack.files import FileDownloader
from bot.transports.slack.payloads import BotIdentity, SlackFile, event_message
from storage.models import KnowledgeEntry, KnowledgePassage
from tasks.knowledge import ASK_FOR_TEXT, KnowledgeBase
from tests.slack.conftest import BOT_TOKEN, FakeSlack, section_texts
from tests.tasks.test_knowledge_files import pdf_with_text

WIFI = "The guest wifi network is called seqnet and its password is hunter2."
ME = BotIdentity("UBOT", "BBOT")


def file_share(
    text: str, files: list[dict[str, Any]], *, channel: str = "D1", ts: str = "3.1"
) -> dict[str, Any]:
    """Slack's ``message`` event for a message with files (``subtype: file_share``)."""
    channel_type = "im" if channel.startswith("D") else "channel"
    return {
        "type": "message", "subtype": "file_share", "text": text, "files": files,
        "upload": True, "user": "U1", "display_as_bot": False, "ts": ts,
        "client_msg_id": "a5a11822-d14e-4621-992b-32d561648aa0", "channel": channel,
        "event_ts": ts, "channel_type": channel_type,
    }  # fmt: skip


def mention_with_files(text: str, files: list[dict[str, Any]], channel: str = "C1") -> dict:
    """``app_mention`` for a channel message that names the bot and carries files."""
    return {
        "type": "app_mention", "text": text, "files": files, "upload": True, "user": "U1",
        "display_as_bot": False, "ts": "4.1", "channel": channel, "event_ts": "4.1",
    }  # fmt: skip


async def kb_rows(slack) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    async with slack.bot.services.db.session() as session:
        entries = list(await session.scalars(select(KnowledgeEntry.text)))
        passages = list(
            await session.scalars(select(KnowledgePassage.text).order_by(KnowledgePassage.id))
        )
    return entries, passages


def posted_texts(fake: FakeSlack, channel: str) -> list[str]:
    return [
        " ".join(section_texts(p)) or p.get("text", "")
        for p in fake.called("chat.postMessage")
        if p["channel"] == channel
    ]


async def test_a_file_after_a_bare_kb_add_in_a_dm(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])

    ack, _ = await slack.command("/seqbot", "kb add", channel="D1")
    assert section_texts(ack.json()) == [ASK_FOR_TEXT]
    await slack.transport.wait_idle()

    wifi = fake_slack.shared_file("wifi.txt", WIFI.encode(), "text/plain", "text")
    await slack.event(file_share("", [wifi]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "D1")
    assert reply.startswith("Saved wifi.txt as `kb#1`")
    assert fake_slack.downloads == [(wifi["id"], f"Bearer {BOT_TOKEN}")]
    entries, passages = await kb_rows(slack)
    assert entries == [f"[wifi.txt]\n{WIFI}"]
    assert passages == [f"[wifi.txt] {WIFI}"]

    listed, _ = await slack.command("/seqbot", "kb list", channel="D1")
    assert "wifi.txt" in " ".join(section_texts(listed.json()))


async def test_a_markdown_file_sent_with_kb_add_in_a_dm(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])
    notes = fake_slack.shared_file(
        "notes.md", b"# Notes\n\n" + WIFI.encode(), "text/markdown", "markdown"
    )

    await slack.event(file_share("<@UBOT> kb add", [notes]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "D1")
    assert reply.startswith("Saved notes.md as `kb#1`")
    entries, _ = await kb_rows(slack)
    assert entries[0].startswith("[notes.md]\n# Notes")


async def test_a_channel_mention_with_a_file_is_added(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])
    wifi = fake_slack.shared_file("wifi.txt", WIFI.encode(), "text/plain", "text")

    # Slack sends both; the message event of a mention is left to the app_mention.
    await slack.event(file_share("<@UBOT> kb add", [wifi], channel="C1", ts="4.1"))
    await slack.event(mention_with_files("<@UBOT> kb add", [wifi]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "C1")
    assert reply.startswith("Saved wifi.txt as `kb#1` for this chat")
    assert len(fake_slack.downloads) == 1
    entries, _ = await kb_rows(slack)
    assert entries == [f"[wifi.txt]\n{WIFI}"]


async def test_a_pdf_file(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])
    data = pdf_with_text("The office opens at nine.", "Lunch is at noon.")
    pdf = fake_slack.shared_file("office.pdf", data, "application/pdf", "pdf")

    await slack.event(file_share("<@UBOT> kb add", [pdf]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "D1")
    assert reply.startswith("Saved office.pdf")
    _, passages = await kb_rows(slack)
    text = " ".join(passages)
    assert "The office opens at nine." in text and "Lunch is at noon." in text
    assert all(passage.startswith("[office.pdf] ") for passage in passages)


async def test_too_big_and_wrong_types_are_refused_without_a_download(
    make_slack, fake_slack
) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])
    big = fake_slack.shared_file("big.txt", b"x", "text/plain", "text", size=5 * 1024 * 1024 + 1)
    exe = fake_slack.shared_file("setup.exe", b"MZ", "application/x-msdownload", "binary")
    png = fake_slack.shared_file("photo.png", b"\x89PNG", "image/png", "png")

    for ts, file in (("5.1", big), ("5.2", exe), ("5.3", png)):
        await slack.event(file_share("<@UBOT> kb add", [file], ts=ts))
        await slack.transport.wait_idle()

    too_big, wrong_exe, wrong_png = posted_texts(fake_slack, "D1")
    assert too_big == "big.txt is too big (5.0 MB); the limit is 5.0 MB."
    assert wrong_exe.startswith("I can only add .txt, .md or .pdf files")
    assert "setup.exe" in wrong_exe and "photo.png" in wrong_png
    assert all("\n" not in line for line in (too_big, wrong_exe, wrong_png))
    assert fake_slack.downloads == []
    assert await kb_rows(slack) == ([], [])


async def test_a_failed_download_is_one_line(make_slack, fake_slack) -> None:
    slack = await make_slack(tasks=[KnowledgeBase()])
    wifi = fake_slack.shared_file("wifi.txt", WIFI.encode(), "text/plain", "text")
    fake_slack.download_failures.append(500)

    await slack.event(file_share("<@UBOT> kb add", [wifi]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "D1")
    assert reply == "I could not download wifi.txt from Slack; send it again."
    assert await kb_rows(slack) == ([], [])


async def test_without_the_token_slack_sends_a_sign_in_page(fake_slack) -> None:
    """The fake checks the token like Slack: the bot's token gets the bytes, others a page."""
    wifi = SlackFile.model_validate(
        fake_slack.shared_file("wifi.txt", WIFI.encode(), "text/plain", "text")
    )
    async with aiohttp.ClientSession() as session:
        good = FileDownloader(session, BOT_TOKEN, fake_slack.api_url)
        assert await good.download(wifi, "wifi.txt") == WIFI.encode()
        wrong = FileDownloader(session, "xoxb-other", fake_slack.api_url)
        with pytest.raises(UserError, match="files:read"):
            await wrong.download(wifi, "wifi.txt")
    assert fake_slack.downloads == [
        (wifi.id, f"Bearer {BOT_TOKEN}"),
        (wifi.id, "Bearer xoxb-other"),
    ]


async def test_bytes_beyond_the_declared_size_are_refused(fake_slack) -> None:
    shared = fake_slack.shared_file("wifi.txt", WIFI.encode(), "text/plain", "text", size=10)
    async with aiohttp.ClientSession() as session:
        files = FileDownloader(session, BOT_TOKEN, fake_slack.api_url)
        with pytest.raises(UserError, match="bigger than Slack said"):
            await files.download(SlackFile.model_validate(shared), "wifi.txt")


async def test_the_token_goes_only_to_slack_hosts(fake_slack) -> None:
    async with aiohttp.ClientSession() as session:
        files = FileDownloader(session, BOT_TOKEN, fake_slack.api_url)
        assert files.trusted("https://files.slack.com/files-pri/T1-F1/download/a.txt")
        assert files.trusted(f"http://127.0.0.1:{fake_slack.port}/files-pri/T1-F1/a.txt")
        assert not files.trusted("http://files.slack.com/files-pri/T1-F1/a.txt")
        assert not files.trusted("https://files.slack.com.evil.example/a.txt")
        assert not files.trusted("https://evil.example/files.slack.com/a.txt")
        elsewhere = SlackFile(id="F1", name="a.txt", url_private_download="https://evil.example/a")
        with pytest.raises(UserError, match=r"could not download a\.txt"):
            await files.download(elsewhere, "a.txt")


async def test_a_file_without_a_download_url_gets_a_sentence(make_slack, fake_slack) -> None:
    """A Slack Connect file arrives as its id only (``mode: file_access``)."""
    slack = await make_slack(tasks=[KnowledgeBase()])
    remote = {"id": "F12345678", "mode": "file_access", "file_access": "check_file_info",
              "created": 0, "timestamp": 0, "user": ""}  # fmt: skip

    await slack.event(file_share("<@UBOT> kb add", [remote]))
    await slack.transport.wait_idle()

    [reply] = posted_texts(fake_slack, "D1")
    assert "\n" not in reply and fake_slack.downloads == []
    assert reply.startswith("I can only add .txt, .md or .pdf files")


def test_file_share_events_carry_attachments() -> None:
    file = {"id": "F1", "name": "a.txt", "mimetype": "text/plain", "size": 3,
            "url_private_download": "https://files.slack.com/x"}  # fmt: skip
    event = file_share("", [file])
    made: list[str] = []

    async def read() -> bytes:
        return b""

    def describe(shared: SlackFile) -> Attachment:
        made.append(shared.id)
        return Attachment(shared.name or "", shared.mimetype, shared.size, read)

    message = event_message(event, ME, "Alice", describe)
    assert message is not None and made == ["F1"] and message.text == ""
    [attachment] = message.attachments
    assert (attachment.name, attachment.mime_type, attachment.size) == ("a.txt", "text/plain", 3)
    # Without a reader (the first look, for the allow-list), no attachments and no download.
    reader_less = event_message(event, ME, "Alice")
    assert reader_less is not None and reader_less.attachments == ()
    # A file_share without text still reaches the core; a message without both does not.
    no_text = {k: v for k, v in event.items() if k != "text"}
    assert event_message(no_text, ME, "Alice", describe) is not None
    assert event_message(no_text | {"files": []}, ME, "Alice") is None
