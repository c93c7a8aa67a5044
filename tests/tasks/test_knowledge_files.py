"""/kb add with a file: .txt, .md and .pdf passage by passage, limits, and the private-chat dialog."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from bot.messages import Attachment, ChatKind
from storage.models import KnowledgeEntry, KnowledgePassage
from tasks._documents import MAX_FILE_BYTES, MAX_TEXT_CHARS, kind_of
from tasks.knowledge import ASK_FOR_TEXT

WIFI = "The guest wifi network is called seqnet and its password is hunter2."


def attachment(name: str, data: bytes, *, mime: str | None = None, size: int | None = -1):
    """A file as a transport describes it; ``reads`` counts downloads (size -1: the real one)."""
    reads: list[int] = []

    async def read() -> bytes:
        reads.append(1)
        return data

    file = Attachment(name, mime, len(data) if size == -1 else size, read)
    return file, reads


def pdf_with_text(*pages: str) -> bytes:
    """A minimal valid PDF, written by hand, with one line of Helvetica text per page."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
    ]
    font = 3 + 2 * count
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


async def send(chat, text: str, *files: Attachment, kind: ChatKind = ChatKind.PRIVATE):  # type: ignore[no-untyped-def]
    """Send ``text`` with ``files`` attached in the console chat (or as a group); the replies."""
    message = dataclasses.replace(chat.console.message(text), attachments=files, chat_kind=kind)
    before = len(chat.console.sent)
    await chat.bot.handle(message, chat.console)
    return [reply.text for _, reply in chat.console.sent[before:]]


async def say_in_group(chat, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    return await send(chat, text, kind=ChatKind.GROUP)


async def stored(db) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        entries = list(await session.scalars(select(KnowledgeEntry.text)))
        passages = list(
            await session.scalars(select(KnowledgePassage.text).order_by(KnowledgePassage.id))
        )
    return entries, passages


async def test_a_text_file_is_added_passage_by_passage_with_its_name(chat, db):
    paragraphs = [f"Paragraph {i}: " + "words and more words. " * 20 for i in range(3)]
    file, _ = attachment("handbook.txt", "\n\n".join(paragraphs).encode())
    [reply] = await send(chat, "/kb add", file)
    assert reply.startswith("Saved handbook.txt as `kb#1` for this chat in ")
    entries, passages = await stored(db)
    assert entries[0].startswith("[handbook.txt]\nParagraph 0")
    assert len(passages) >= 3 and all(p.startswith("[handbook.txt] ") for p in passages)
    search = await send(chat, "/kb search Paragraph")
    assert "[handbook.txt]" in search[0]


async def test_markdown_with_a_byte_order_mark(chat, db):
    file, _ = attachment("notes.md", ("\ufeff# Wifi\n\n" + WIFI).encode(), mime="text/markdown")
    [reply] = await send(chat, "/kb add", file)
    assert reply == "Saved notes.md as `kb#1` for this chat. /ask questions can now use it."
    _, passages = await stored(db)
    assert passages == [f"[notes.md] # Wifi\n\n{WIFI}"]


async def test_a_pdf_is_read_page_by_page(chat, db):
    file, _ = attachment("guide.pdf", pdf_with_text("The office opens at nine.", WIFI))
    [reply] = await send(chat, "/kb add", file)
    assert reply.startswith("Saved guide.pdf as `kb#1`")
    entries, _ = await stored(db)
    assert "The office opens at nine." in entries[0] and "seqnet" in entries[0]
    assert (await send(chat, "/kb search seqnet"))[0].count("kb#1") == 1


async def test_a_file_too_big_is_refused_before_it_is_downloaded(chat, db):
    file, reads = attachment("big.txt", b"x", size=MAX_FILE_BYTES + 1)
    [reply] = await send(chat, "/kb add", file)
    assert reply == "big.txt is too big (5.0 MB); the limit is 5.0 MB."
    assert not reads
    unknown_size, reads = attachment("big.txt", b"x" * (MAX_FILE_BYTES + 1), size=None)
    [reply] = await send(chat, "/kb add", unknown_size)
    assert reply.startswith("big.txt is too big") and reads  # checked on the bytes then
    assert await stored(db) == ([], [])


@pytest.mark.parametrize(
    ("name", "data", "answer"),
    [
        ("photo.png", b"\x89PNG", "I can only add .txt, .md or .pdf files to the knowledge base, not photo.png."),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "latin1.txt is not UTF-8 text; save it as UTF-8 and send it again."),
        ("broken.pdf", b"%PDF-1.4 garbage", "I could not read broken.pdf as a PDF (damaged or password-protected?)."),
        ("empty.md", b"  \n", "I found no text in empty.md (a scan holds only images)."),
    ],
)  # fmt: skip
async def test_files_that_cannot_be_used_get_one_line(chat, db, name, data, answer):
    file, _ = attachment(name, data)
    assert await send(chat, "/kb add", file) == [answer]
    assert await stored(db) == ([], [])


async def test_too_much_text_is_refused(chat, monkeypatch):
    monkeypatch.setattr("tasks._documents.MAX_TEXT_CHARS", 10)
    file, _ = attachment("long.txt", b"eleven chars")
    [reply] = await send(chat, "/kb add", file)
    assert reply.startswith("long.txt holds too much text (12 characters)")
    assert MAX_TEXT_CHARS == 2_000_000


async def test_a_bare_kb_add_in_a_private_chat_asks_and_takes_a_file(chat, db):
    assert await send(chat, "/kb add") == [ASK_FOR_TEXT]
    file, _ = attachment("notes.txt", WIFI.encode())
    [reply] = await send(chat, "", file)
    assert reply.startswith("Saved notes.txt as `kb#1`")


async def test_a_bare_kb_add_in_a_private_chat_asks_and_takes_a_text(chat, db):
    await send(chat, "/kb add")
    assert await send(chat, WIFI) == [
        "Saved as `kb#1` for this chat. /ask questions can now use it."
    ]
    assert (await stored(db))[0] == [WIFI]


async def test_a_file_in_a_group_needs_the_caption(chat, db):
    file, _ = attachment("notes.txt", WIFI.encode())
    [reply] = await send(chat, "/kb add", file, kind=ChatKind.GROUP)
    assert reply.startswith("Saved notes.txt")


def test_kinds_by_name_then_by_type():
    def kind(name: str, mime: str | None = None) -> str | None:
        return kind_of(Attachment(name, mime, 1, lambda: None))  # type: ignore[arg-type,return-value]

    assert kind("A.PDF") == "pdf" and kind("x.markdown") == "text"
    assert kind("README", "text/plain; charset=utf-8") == "text"
    assert kind("x.docx", "text/plain") is None and kind("x") is None
