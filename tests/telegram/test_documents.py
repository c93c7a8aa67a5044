"""Documents for the knowledge base: ``message`` updates with a ``document``, fetched by getFile."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import KnowledgeEntry
from tasks.knowledge import ASK_FOR_TEXT
from tests.tasks.conftest import language_tasks
from tests.tasks.test_knowledge_files import pdf_with_text
from tests.telegram.fake_api import document_message, message

PRIVATE = 42
GROUP = -100700
WIFI = "The guest wifi network is called seqnet and its password is hunter2."


async def entries(db) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return list(await session.scalars(select(KnowledgeEntry.text)))


async def push_document(fake_api, chat_id: int, name: str, data: bytes, caption=None, **extra):  # type: ignore[no-untyped-def]
    update, file_id = document_message(chat_id, name, data, caption, **extra)
    fake_api.files[file_id] = data
    await fake_api.push(update)
    return file_id


async def test_a_document_captioned_kb_add_in_a_group_is_added(running, fake_api, db):
    await running(plugins=language_tasks())
    file_id = await push_document(fake_api, GROUP, "wifi.txt", WIFI.encode(), "/kb add")
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert reply.params["text"].startswith("Saved wifi.txt as <code>kb#1</code>")
    assert fake_api.sent("getFile", file_id=file_id)
    assert fake_api.downloads == [f"documents/{file_id}"]
    assert await entries(db) == [f"[wifi.txt]\n{WIFI}"]


async def test_a_pdf_document(running, fake_api, db):
    await running(plugins=language_tasks())
    data = pdf_with_text("The office opens at nine.")
    await push_document(fake_api, PRIVATE, "office.pdf", data, "/kb add")
    [reply] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert reply.params["text"].startswith("Saved office.pdf")
    assert "The office opens at nine." in (await entries(db))[0]


async def test_a_document_after_a_bare_kb_add_in_a_private_chat(running, fake_api, db):
    await running(plugins=language_tasks())
    await fake_api.push(message(PRIVATE, "/kb add"))
    await fake_api.wait_for(chat_id=str(PRIVATE), text=ASK_FOR_TEXT)
    await push_document(fake_api, PRIVATE, "notes.md", b"# Notes\n\n" + WIFI.encode())
    await fake_api.wait_for(chat_id=str(PRIVATE), count=2)
    assert (await entries(db))[0].startswith("[notes.md]\n# Notes")


async def test_too_big_and_wrong_type_are_refused_without_a_download(running, fake_api, db):
    await running(plugins=language_tasks())
    big = b"x" * (5 * 1024 * 1024 + 1)
    await push_document(fake_api, PRIVATE, "big.txt", big, "/kb add")
    [too_big] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert too_big.params["text"] == "big.txt is too big (5.0 MB); the limit is 5.0 MB."
    await push_document(fake_api, PRIVATE, "sheet.xlsx", b"PK", "/kb add")
    [_, wrong] = await fake_api.wait_for(chat_id=str(PRIVATE), count=2)
    assert wrong.params["text"].startswith("I can only add .txt, .md or .pdf files")
    assert not fake_api.sent("getFile") and not fake_api.downloads
    assert await entries(db) == []


async def test_a_failed_download_is_one_line(running, fake_api, db):
    await running(plugins=language_tasks())
    fake_api.fail_next("getFile", 400, "Bad Request: file is too big")
    await push_document(fake_api, PRIVATE, "wifi.txt", WIFI.encode(), "/kb add")
    [reply] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert reply.params["text"] == "I could not download that file from Telegram; send it again."
    assert await entries(db) == []


async def test_a_document_without_caption_in_a_group_is_ignored(running, fake_api, db):
    await running(plugins=language_tasks())
    await push_document(fake_api, GROUP, "wifi.txt", WIFI.encode())
    await fake_api.push(message(GROUP, "/kb list"))
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert reply.params["text"].startswith("The knowledge base is empty")
    assert not fake_api.sent("getFile")


async def test_webhook_checks_the_document_fields(webhook, fake_api):
    _bot, post = webhook
    update, _ = document_message(PRIVATE, "wifi.txt", b"x", "/kb add")
    update["message"]["document"]["file_size"] = "big"
    assert await post(json.dumps({"update_id": 9, **update})) == 400


async def test_kb_add_replying_to_a_document_adds_that_document(running, fake_api, db):
    await running(plugins=language_tasks())
    update, file_id = document_message(GROUP, "wifi.txt", WIFI.encode())
    fake_api.files[file_id] = WIFI.encode()
    await fake_api.push(message(GROUP, "/kb add", reply_to_message=update["message"]))
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert reply.params["text"].startswith("Saved wifi.txt")
    assert await entries(db) == [f"[wifi.txt]\n{WIFI}"]
