"""Odd numbers typed into every numeric argument get a clear one-line reply, never the apology.

Each command is tried with digits of other scripts, superscripts, signs, other bases and numbers
far beyond what the database (PostgreSQL INTEGER, SQLite INTEGER) or ``datetime`` can hold, on
both backends, through the real chat.
"""

from __future__ import annotations

import pytest

from bot.plugins import PluginRegistry
from tasks.core import CoreCommands
from tasks.knowledge import KnowledgeBase
from tasks.reminders import Reminders
from tasks.summarize import Summarize

APOLOGY = "something went wrong on my side"
ODD_NUMBERS = [
    "²", "³", "①", "½", "٣", "१२", "１", "１２３４５６７８９０１２",  # other scripts, digit-likes
    "-1", "+5", "0", "00", "1.5", "1,000", "1_000", "1e9", "0x10", "0b1", "Infinity", "NaN",
    "2147483647", "2147483648", "9223372036854775808", "99999999999999999999",
    "9999999999999", "99999999999", "99999", "9" * 5000,
]  # fmt: skip

# Each command with {n} for the odd number, and the starts of the replies that count as clear.
COMMANDS = {
    "/kb remove {n}": ("Which entry?", "There is no entry kb#", "Removed `kb#1`"),
    "/kb remove kb#{n}": ("Which entry?", "There is no entry kb#", "Removed `kb#1`"),
    "/remind cancel {n}": ("Which reminder?", "I have no reminder #", "Cancelled reminder #1"),
    "/remind done #{n}": ("Which reminder?", "I have no reminder #", "Done: #1"),
    "/remind snooze {n} 10m": ("Which reminder?", "I have no reminder #", "Snoozed: #1"),
    "/press remind:snooze:{n}:10m": ("Which reminder?", "I have no reminder #", "Snoozed: #1"),
    "/remind snooze 1 {n}d": ("I can't read", "Snooze for between", "Snoozed: #1"),
    "/remind snooze 1 {n} minutes": ("I can't read", "Snooze for between", "Snoozed: #1"),
    "/remind me in {n} minutes x": ("OK, reminder #", "That is too far", "That time", "I can't"),
    "/remind me in {n} years x": ("OK, reminder #", "That is too far", "That time", "I can't"),
    "/remind me in {n} days and 2 hours x": ("OK, reminder #", "That is", "That time", "I can't"),
    "/remind here every {n} hours x": ("OK, reminder #", "Repeat", "I can't read that"),
    "/remind here every {n} weeks at 9 x": ("OK, reminder #", "Repeat", "I can't read that"),
    "/summarize {n}": ("**Summary", "Give a number of messages", "Nobody said anything"),
    "/summarize {n}h": ("**Summary", "Give a period", "Nobody said anything"),
}


def tasks() -> PluginRegistry:
    registry = PluginRegistry()
    for task in (CoreCommands(), KnowledgeBase(), Reminders(), Summarize()):
        registry.add(task)
    return registry


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_odd_numbers_get_a_clear_reply(make_chat, pool, command: str) -> None:
    chat = await make_chat(plugins=tasks(), engine=pool)
    await chat.say("/settings timezone Europe/Berlin")
    await chat.say("/kb add The office opens at 9.")
    await chat.say("/remind me in 1 hour to stretch")  # reminder #1, for the snooze lengths
    unclear = []
    for number in ODD_NUMBERS:
        reply = await chat.say_one(command.format(n=number))
        if APOLOGY in reply or not reply.startswith(COMMANDS[command]):
            unclear.append((number[:24], reply[:120]))
        assert "9" * 100 not in reply  # a huge number is not echoed back whole
    assert unclear == []


async def test_ids_in_other_scripts_are_read_as_numbers(make_chat, pool) -> None:
    chat = await make_chat(plugins=tasks(), engine=pool)
    await chat.say("/remind me in 1 hour to stretch")
    assert await chat.say_one("/remind cancel ١") == "Cancelled reminder #1: stretch"
    reply = await chat.say_one("/kb add The office opens at 9.")
    entry_id = int(reply.split("kb#")[1].split("`")[0])
    full_width = "".join(chr(ord("０") + int(d)) for d in str(entry_id))
    assert await chat.say_one(f"/kb remove {full_width}") == f"Removed `kb#{entry_id}`."


async def test_the_largest_database_id_is_looked_up_and_one_more_is_not(make_chat, pool) -> None:
    chat = await make_chat(plugins=tasks(), engine=pool)
    assert await chat.say_one("/kb remove 2147483647") == (
        "There is no entry kb#2147483647 here; /kb list shows them."
    )
    assert await chat.say_one("/kb remove 2147483648") == (
        "There is no entry kb#2147483648 here; /kb list shows them."
    )
    assert (await chat.say_one("/kb remove ²")).startswith("Which entry? Give its number")
