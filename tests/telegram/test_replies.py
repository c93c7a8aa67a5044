"""Replying to any message with a command acts on that message (``reply_to_message``)."""

from __future__ import annotations

from tests.tasks.conftest import FakeEngine, FakePool, language_tasks
from tests.telegram.fake_api import message, user

GROUP = -100600


def shout(prompt: str) -> str:
    """Scripted "model": the text after the instruction line, upper-cased."""
    return prompt.split("\n", 1)[-1].upper()


def bobs_message(text: str, message_id: int = 321) -> dict:
    """The message being replied to: Bob's, in the group, as Telegram nests it."""
    return {
        "message_id": message_id,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Team"},
        "from": user(7, "Bob"),
        "text": text,
    }


async def test_translate_replying_to_a_message_translates_that_message(running, fake_api):
    engine = FakeEngine(answer=shout)
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    original = bobs_message("the weather is lovely today")
    update = await fake_api.push(message(GROUP, "/translate to de", reply_to_message=original))
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert any("the weather is lovely today" in p for p in engine.prompts())
    assert "THE WEATHER IS LOVELY TODAY" in reply.params["text"]
    # The answer quotes the command, which itself quotes Bob's message.
    assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_summarize_replying_to_a_message_summarizes_that_message(running, fake_api):
    engine = FakeEngine(answer=lambda prompt: "The build broke.")
    await running(plugins=language_tasks(), engine=FakePool(default=engine))
    original = bobs_message("After the upgrade the build broke on every branch.")
    await fake_api.push(message(GROUP, "/summarize", reply_to_message=original))
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert any("the build broke on every branch" in p for p in engine.prompts())
    assert "The build broke." in reply.params["text"]


async def test_replying_to_a_message_without_text_says_so(running, fake_api):
    await running(plugins=language_tasks(), engine=FakePool())
    photo = bobs_message("x")
    del photo["text"]
    photo["photo"] = [{"file_id": "p", "file_unique_id": "pu", "width": 1, "height": 1}]
    await fake_api.push(message(GROUP, "/translate to de", reply_to_message=photo))
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert "no text I can read" in reply.params["text"]


async def test_remind_replying_to_a_message_quotes_it(running, fake_api, db):
    """``/remind in 2 hours`` as a reply: the reminder is the message replied to."""
    from sqlalchemy import select

    from storage.models import Reminder
    from tasks.reminders import Reminders
    from tests.fixtures.tasks import registry

    await running(plugins=registry(Reminders()))
    await fake_api.push(message(GROUP, "/settings timezone Europe/Berlin"))
    await fake_api.wait_for(chat_id=str(GROUP))
    original = bobs_message("ship the release notes before Friday")
    await fake_api.push(message(GROUP, "/remind me in 2 hours", reply_to_message=original))
    [_, reply] = await fake_api.wait_for(chat_id=str(GROUP), count=2)
    assert "“ship the release notes before Friday” (Bob)" in reply.params["text"]
    async with db.session() as session:
        [stored] = list(await session.scalars(select(Reminder.text)))
    assert stored == "“ship the release notes before Friday” (Bob)"
    await fake_api.push(message(GROUP, "/remind me in 2 hours"))  # no reply, no text: asks
    [*_, refusal] = await fake_api.wait_for(chat_id=str(GROUP), count=3)
    assert "What should I remind you of?" in refusal.params["text"]
