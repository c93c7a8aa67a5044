"""The core through the console transport: routing, bad input, errors, dialogs, /forget."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.messages import ChatKind, IncomingMessage
from bot.plugins import PluginRegistry, Task
from storage.models import DialogState, Message, Reminder, User
from tests.fixtures.tasks import Ask, Echo, Gated, registry


def with_echo(*extra: Task) -> PluginRegistry:
    """The core commands, :class:`Echo` and ``extra``: what most tests here talk to."""
    return registry(Echo(), *extra)


async def test_help_lists_every_registered_task(make_chat):
    chat = await make_chat(plugins=with_echo())
    reply = await chat.say_one("/help")
    assert "/echo" in reply and "/settings" in reply and "/forget" in reply
    assert "/boom" not in reply  # hidden commands stay out of menus
    detail = await chat.say_one("/help echo")
    assert "Repeat what you say." in detail and "/echo <text>" in detail


async def test_commands_and_aliases_route_to_their_task(make_chat):
    chat = await make_chat(plugins=with_echo())
    assert await chat.say("/echo hello world") == ["hello world"]
    assert await chat.say("/say again") == ["again"]
    assert await chat.say("@seqbot /echo mentioned") == ["mentioned"]
    assert await chat.say("@seqbot echo without slash") == ["without slash"]


async def test_unknown_command_suggests_the_closest(make_chat):
    chat = await make_chat(plugins=with_echo())
    reply = await chat.say_one("/ecko hi")
    assert reply == "I don't know /ecko. Did you mean /echo? Send /help for the list of commands."


async def test_usage_error_replies_with_usage(make_chat):
    chat = await make_chat(plugins=with_echo())
    assert await chat.say_one("/echo") == "Tell me what to repeat.\nUsage:\n/echo <text>"


async def test_task_crash_gives_error_id_and_logs_traceback(make_chat, caplog):
    chat = await make_chat(plugins=with_echo())
    with caplog.at_level(logging.ERROR):
        reply = await chat.say_one("/boom")
    assert "secret internal detail" not in reply and "Traceback" not in reply
    error_id = reply.split("(error ")[1].split(")")[0]
    record = next(r for r in caplog.records if error_id in r.getMessage())
    assert record.exc_info is not None
    assert (record.exc_info[0], str(record.exc_info[1])) == (RuntimeError, "secret internal detail")


async def test_free_text_goes_to_default_task_in_private(make_chat):
    chat = await make_chat(plugins=with_echo(Ask()))
    assert await chat.say("what is the answer?") == ["You asked: what is the answer?"]


async def test_free_text_without_default_task_gets_a_hint(make_chat):
    chat = await make_chat(plugins=with_echo())
    assert await chat.say("hello") == ["I only understand commands here. Try /help."]


async def test_group_chatter_is_stored_but_not_answered(make_chat, db):
    chat = await make_chat(plugins=with_echo(Ask()))
    group = IncomingMessage(
        "console", "g1", ChatKind.GROUP, "bob", "Bob", "nice weather", addressed=False
    )
    await chat.bot.handle(group, chat.console)
    assert chat.console.sent == []
    mention = IncomingMessage(
        "console", "g1", ChatKind.GROUP, "bob", "Bob", "@seqbot /echo hi", addressed=False
    )
    await chat.bot.handle(mention, chat.console)
    assert [r.text for _, r in chat.console.sent] == ["hi"]
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["nice weather", "@seqbot /echo hi", "hi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Send me a message, or /help to see what I can do."),
        ("   \n\t ", "Send me a message, or /help to see what I can do."),
        ("\x00\x07\x1b", "Send me a message, or /help to see what I can do."),
    ],
)
async def test_empty_and_control_only_input(make_chat, text, expected):
    chat = await make_chat(plugins=with_echo(Ask()))
    assert await chat.say(text) == [expected]


async def test_control_characters_and_broken_unicode_are_cleaned(make_chat, db):
    chat = await make_chat(plugins=with_echo())
    assert await chat.say("/echo a\x00b\x1b[31mc \ud800d") == ["ab[31mc ?d"]
    async with db.session() as session:
        stored = await session.scalar(select(Message.text).order_by(Message.id).limit(1))
    assert stored == "/echo ab[31mc ?d"


async def test_message_over_the_limit_is_refused_and_not_stored(make_chat, db):
    chat = await make_chat(plugins=with_echo(), max_message_chars=100)
    reply = await chat.say_one("/echo " + "x" * 200)
    assert reply == "That message has 206 characters; the limit is 100. Please send a shorter text."
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_settings_validate_timezone_and_language(make_chat, db):
    chat = await make_chat(plugins=with_echo())
    assert (
        await chat.say_one("/settings timezone europe/berlin") == "Time zone set to Europe/Berlin."
    )
    assert await chat.say_one("/settings language Deutsch") == "Language set to German (de)."
    assert await chat.say_one("/settings language fr") == "Language set to French (fr)."
    shown = await chat.say_one("/settings")
    assert "Europe/Berlin" in shown and "French (fr)" in shown and "(default)" not in shown
    bad_zone = await chat.say_one("/settings timezone Europe/Berln")
    assert bad_zone.startswith("Unknown time zone 'Europe/Berln'. Did you mean Europe/Berlin")
    bad_lang = await chat.say_one("/settings language Blorptongue")
    assert bad_lang.startswith("Unknown language 'Blorptongue'.")
    async with db.session() as session:
        user = await session.scalar(select(User))
    assert (user.timezone, user.language) == ("Europe/Berlin", "fr")
    assert await chat.say_one("/settings reset") == "Your settings are back to the defaults."
    assert "UTC (default)" in await chat.say_one("/settings")


async def test_buttons_route_back_to_the_task(make_chat):
    chat = await make_chat(plugins=with_echo())
    [reply] = await chat.console.say("/pick")
    assert reply.buttons[0].action == "echo:chose:red"
    assert await chat.say(f"/press {reply.buttons[0].action}") == ["You chose red."]
    assert await chat.say("/press echo:gone") == ["That button no longer works."]


async def test_dialog_survives_a_restart(make_chat):
    first = await make_chat(plugins=with_echo())
    assert await first.say("/survey") == ["What is your favourite colour?"]
    await first.bot.drain()
    second = await make_chat(plugins=with_echo())  # a new bot on the same database
    assert await second.say("teal") == ["Noted: teal (for survey)."]
    assert await second.say("teal") == ["I only understand commands here. Try /help."]


async def test_expired_dialog_is_not_answered(make_chat, db):
    chat = await make_chat(plugins=with_echo(Ask()))
    await chat.say("/survey")
    async with db.session() as session:
        state = await session.scalar(select(DialogState))
        state.expires_at = state.expires_at.replace(year=2000)
    assert await chat.say("teal") == ["You asked: teal"]


async def test_a_command_cancels_the_pending_dialog(make_chat):
    chat = await make_chat(plugins=with_echo(Ask()))
    await chat.say("/survey")
    await chat.say("/echo something else")
    assert await chat.say("teal") == ["You asked: teal"]


async def test_history_is_kept_across_restarts(make_chat, db):
    first = await make_chat(plugins=with_echo())
    await first.say("/echo one")
    second = await make_chat(plugins=with_echo())
    await second.say("/echo two")
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["/echo one", "one", "/echo two", "two"]


async def test_forget_deletes_this_users_data_in_this_chat(make_chat, db):
    alice = await make_chat(plugins=with_echo(), user_id="alice")
    bob = await make_chat(plugins=with_echo(), user_id="bob")
    await alice.say("/echo mine")
    await alice.say("/survey")
    await bob.say("/echo his")
    async with db.session() as session:
        alice_id = await session.scalar(select(User.id).where(User.external_id == "alice"))
        session.add(
            Reminder(
                user_id=alice_id,
                platform="console",
                chat_external_id="console",
                text="stretch",
                due_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    reply = await alice.say_one("/forget")
    assert reply.startswith("Done. I deleted 5 messages and 1 reminder of yours in this chat")
    async with db.session() as session:
        left = (await session.scalars(select(Message.text).order_by(Message.id))).all()
        reminders = await session.scalar(select(func.count()).select_from(Reminder))
    assert left == ["/echo his", "his"]
    assert reminders == 0


async def test_retention_by_count(make_chat, db):
    chat = await make_chat(plugins=with_echo(), history_max_messages=3)
    for i in range(4):
        await chat.say(f"/echo {i}")
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["2", "/echo 3", "3"]


async def test_retention_by_age(make_chat, db):
    chat = await make_chat(plugins=with_echo(), history_max_age_days=1)
    await chat.say("/echo old")
    async with db.session() as session:
        for row in (await session.scalars(select(Message))).all():
            row.created_at = row.created_at - timedelta(days=2)
    await chat.say("/echo new")
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["/echo new", "new"]


async def test_shutdown_lets_replies_in_progress_finish(make_chat, db):
    slow = Gated()
    chat = await make_chat(plugins=with_echo(slow))
    in_progress = asyncio.create_task(chat.say("/think tea"))
    await slow.started.wait()
    draining = asyncio.create_task(chat.bot.drain())
    # Tasks start in the order they were created, so drain() has begun before this message.
    late = asyncio.create_task(chat.say("/echo arrived during shutdown"))
    assert await late == []  # refused: the shutdown has provably begun...
    assert not draining.done()  # ...and waits for /think, whose gate is still closed
    slow.gate.set()
    await draining
    assert await in_progress == ["**Thought** about tea"]
    async with db.session() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert texts == ["/think tea", "**Thought** about tea"]


async def test_mention_is_stripped_before_free_text_reaches_the_default_task(make_chat):
    chat = await make_chat(plugins=with_echo(Ask()))
    group = IncomingMessage("console", "g1", ChatKind.GROUP, "bob", "Bob", "@seqbot what is T5?")
    await chat.bot.handle(group, chat.console)
    assert [r.text for _, r in chat.console.sent] == ["You asked: what is T5?"]


async def test_a_command_instead_of_the_zone_answer_says_the_reminder_was_dropped(make_chat, db):
    from tasks.reminders import Reminders

    chat = await make_chat(plugins=with_echo(Reminders()))
    question = await chat.say_one("/remind me tomorrow at 9 to call Anna")
    assert "Which time zone" in question
    assert "Unknown time zone" in await chat.say_one("Mars/Olympus")  # asked again
    dropped, echoed = await chat.say("/echo something else")
    assert dropped == (
        "I dropped your pending reminder “call Anna” because you sent another command; "
        "send it again: /remind me tomorrow at 9 to call Anna"
    )
    assert echoed == "something else"
    assert await chat.say("Europe/Berlin") == ["I only understand commands here. Try /help."]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(DialogState)) == 0
        assert await session.scalar(select(func.count()).select_from(Reminder)) == 0
    # A question that tells nothing when dropped still just goes away.
    await chat.say("/survey")
    assert await chat.say("/echo again") == ["again"]
