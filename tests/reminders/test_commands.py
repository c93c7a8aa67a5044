"""``/remind`` through the real core, as a user in the console would type it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.messages import ChatKind, IncomingMessage
from tests.reminders.conftest import FakeClock


async def open_chat(make_chat, registry, clock: FakeClock, **overrides):  # type: ignore[no-untyped-def]
    chat = await make_chat(plugins=registry(), with_reminders=True, **overrides)
    chat.bot.services.reminders.clock = clock
    return chat


async def deliver(chat) -> list[str]:  # type: ignore[no-untyped-def]
    """Run the dispatcher now and return what it printed into the console."""
    dispatcher = chat.bot.services.reminders
    before = len(chat.console.sent)
    # A pass the scheduler started meanwhile may deliver some of it; count those too.
    await dispatcher.idle()
    await dispatcher.dispatch_due()
    await dispatcher.idle()
    return [reply.text for _, reply in chat.console.sent[before:]]


async def test_confirmation_shows_text_time_zone_recurrence_and_id(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone Europe/Berlin")
    assert await chat.say_one("/remind here every weekday at 09:00 stand-up") == (
        "OK, reminder #1: **stand-up**\n"
        "Next: Mon 30 Nov 2026, 09:00 (Europe/Berlin), in 1 day 23 hours\n"
        "Repeats: every weekday at 09:00\n"
        "Cancel with `/remind cancel 1`."
    )
    assert await chat.say_one("/remind me tomorrow at 9 to call Anna") == (
        "OK, reminder #2: **call Anna**\n"
        "Next: Sun 29 Nov 2026, 09:00 (Europe/Berlin), in 23 hours\n"
        "“tomorrow at 9” could be 09:00 or 21:00; I picked 09:00 tomorrow.\n"
        "Cancel with `/remind cancel 2`."
    )


async def test_the_time_zone_is_asked_for_once_with_the_default_shown(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    question = await chat.say_one("/remind me tomorrow at 9 to call Anna")
    assert "Which time zone" in question and "**UTC**" in question
    assert "Unknown time zone" in await chat.say_one("Mars/Olympus")  # asked again, politely
    answer = await chat.say_one("America/New_York")
    assert answer.startswith("Time zone set to America/New_York.\nOK, reminder #1")
    assert "Sun 29 Nov 2026, 09:00 (America/New_York)" in answer
    second = await chat.say_one("/remind me on friday 15:30 send the report")
    assert second.startswith("OK, reminder #2") and "Fri 4 Dec 2026, 15:30" in second


async def test_relative_times_need_no_zone_but_say_how_to_set_one(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    assert await chat.say_one("/remind me in 10 minutes to stretch") == (
        "OK, reminder #1: **stretch**\n"
        "Next: Sat 28 Nov 2026, 09:10 (UTC), in 10 minutes\n"
        "Cancel with `/remind cancel 1`.\n"
        "Times are shown in UTC; set yours with /settings timezone."
    )


async def test_a_due_reminder_is_printed_into_the_console_and_snoozed_by_button(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/remind me in 10 minutes to stretch")
    assert await deliver(chat) == []
    clock.advance(minutes=10)
    assert await deliver(chat) == ["⏰ stretch"]
    assert "[Snooze 10 min: /press remind:snooze:1:10m]" in chat.console.output.getvalue()

    assert await chat.say_one("/press remind:snooze:1:10m") == (
        "Snoozed: #1 stretch at Sat 28 Nov 2026, 09:20 (UTC)."
    )
    clock.advance(minutes=9)
    assert await deliver(chat) == []
    clock.advance(minutes=1)
    assert await deliver(chat) == ["⏰ stretch"]
    assert await chat.say_one("/press remind:done:1") == "Done: #1 stretch."


async def test_snooze_command_and_cancel(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/remind me in 10 minutes to stretch")
    await chat.say("/remind me in 20 minutes to drink")
    assert (
        await chat.say_one("/remind snooze 1 1h")
        == "Snoozed: #1 stretch at Sat 28 Nov 2026, 10:00 (UTC)."
    )
    assert await chat.say_one("/remind cancel 2") == "Cancelled reminder #2: drink"
    assert await chat.say_one("/remind list") == (
        "**Your reminders here**\n- #1 Sat 28 Nov 2026, 10:00 (UTC): stretch"
    )
    clock.advance(hours=2)
    assert await deliver(chat) == ["⏰ stretch (late by 1 h)"]
    assert await chat.say_one("/remind cancel 2") == (
        "Reminder #2 is not active any more (cancelled)."
    )


async def test_done_on_a_recurring_reminder_asks_first(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    await chat.say("/remind here every day at 9:30 stand-up")
    question = await chat.say_one("/remind done 1")
    assert question == "#1 stand-up repeats every day at 09:30. End it for good? Reply yes or no."
    assert await chat.say_one("no") == "OK, it keeps repeating."
    await chat.say("/remind done 1")
    assert await chat.say_one("yes") == "Ended the repeating reminder #1: stand-up"
    clock.advance(days=1)
    assert await deliver(chat) == []


async def test_a_recurring_reminder_is_delivered_and_comes_back(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    await chat.say("/remind here every day at 9:30 stand-up")
    clock.advance(minutes=30)
    assert await deliver(chat) == ["⏰ stand-up"]
    assert "Sun 29 Nov 2026, 09:30 (UTC): stand-up" in await chat.say_one("/remind list")
    snoozed = await chat.say_one("/press remind:snooze:1:10m")
    assert snoozed == "Snoozed: #2 stand-up at Sat 28 Nov 2026, 09:40 (UTC)."  # a one-off copy


async def test_the_per_user_cap(make_chat, registry_with_core_and_reminders, clock) -> None:
    chat = await open_chat(
        make_chat, registry_with_core_and_reminders, clock, reminder_max_per_user=2
    )
    await chat.say("/remind me in 10 minutes to a")
    await chat.say("/remind me in 20 minutes to b")
    refused = await chat.say_one("/remind me in 30 minutes to c")
    assert refused.startswith("You already have 2 active reminders")
    await chat.say("/remind cancel 1")
    assert (await chat.say_one("/remind me in 30 minutes to c")).startswith("OK, reminder #3")


async def test_bad_requests_get_one_sentence_and_the_accepted_forms(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    for request, complaint in [
        ("/remind me blorp zorp", "I can't tell when that is."),
        ("/remind me in 10 minutes", "What should I remind you of?"),
        ("/remind me 2020-01-01 10:00 old", "is already past"),
        ("/remind me 2040-01-01 10:00 far", "at most 5 years out"),
        ("/remind me every blue moon standup", "I can't read that repetition"),
        ("/remind soon", "That is vague"),
        ("/remind cancel abc", "Which reminder?"),
        ("/remind snooze 1 forever", "as a duration"),
    ]:
        reply = await chat.say_one(request)
        assert complaint in reply, reply
        if "Usage:" in reply:
            assert "/remind me in 10 minutes to stretch" in reply
    assert await chat.say_one("/remind cancel 99") == (
        "I have no reminder #99 for you; /remind list shows yours."
    )


async def test_nobody_else_can_touch_my_private_reminder(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/remind me in 10 minutes to stretch")
    other = IncomingMessage(
        platform="console", chat_id="elsewhere", chat_kind=ChatKind.PRIVATE,
        user_id="mallory", user_name="mallory", text="/remind cancel 1",
    )  # fmt: skip
    before = len(chat.console.sent)
    await chat.bot.handle(other, chat.console)
    assert chat.console.sent[before][1].text == (
        "I have no reminder #1 for you; /remind list shows yours."
    )


async def test_me_in_a_group_names_the_person(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    group = IncomingMessage(
        platform="console", chat_id="team", chat_kind=ChatKind.GROUP, user_id="alice",
        user_name="Alice", text="/remind me in 5 minutes to review the PR",
    )  # fmt: skip
    await chat.bot.handle(group, chat.console)
    clock.advance(minutes=5)
    assert await deliver(chat) == ["⏰ Alice, review the PR"]


async def test_list_and_snooze_name_the_zone_of_their_times(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone Europe/Berlin")
    await chat.say("/remind me tomorrow at 9 to call Anna")
    assert await chat.say_one("/remind list") == (
        "**Your reminders here**\n- #1 Sun 29 Nov 2026, 09:00 (Europe/Berlin): call Anna"
    )
    assert await chat.say_one("/remind snooze 1 1h") == (
        "Snoozed: #1 call Anna at Sat 28 Nov 2026, 11:00 (Europe/Berlin)."
    )


async def test_every_zero_or_an_unreachable_interval_is_refused_and_nothing_saved(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    for request, complaint in [
        ("/remind here every 0 hours x", "Repeat every 1 hour or more"),
        ("/remind here every 0 days at 9 x", "Repeat every 1 day or more"),
        ("/remind here every 0 weeks at 9 x", "Repeat every 1 week or more"),
        ("/remind here every 0 monday at 9 x", "Repeat every 1 week or more"),
        ("/remind here every 0 months at 9 x", "Repeat every 1 month or more"),
        ("/remind here every 0 years at 9 x", "Repeat every 1 year or more"),
        ("/remind here every 0 minutes x", "every 5 minutes"),
        ("/remind here every 6 years at 9 x", "Repeat at most every 5 years"),
        ("/remind here every 99999999999 hours x", "Repeat at most every 5 years"),
    ]:
        assert complaint in (await chat.say_one(request)).split("\n")[0], request
    assert (await chat.say_one("/remind list")).startswith("You have no reminders here.")


async def test_an_ambiguous_time_says_what_was_picked_and_offers_the_other_as_a_button(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone Europe/Berlin")
    assert await chat.say_one("/remind me at 3 to make tea") == (
        "OK, reminder #1: **make tea**\n"
        "Next: Sat 28 Nov 2026, 15:00 (Europe/Berlin), in 5 hours\n"
        "“at 3” could be 03:00 or 15:00; I picked 15:00 today.\n"
        "Cancel with `/remind cancel 1`."
    )
    other = int(datetime(2026, 11, 29, 2, 0, tzinfo=UTC).timestamp())  # 03:00 in Berlin
    assert f"[Sun 29 Nov, 03:00 instead: /press remind:alt:1:{other}]" in (
        chat.console.output.getvalue()
    )
    assert await chat.say_one(f"/press remind:alt:1:{other}") == (
        "Moved #1 make tea to Sun 29 Nov 2026, 03:00 (Europe/Berlin), in 17 hours."
    )
    assert await chat.say_one("/remind list") == (
        "**Your reminders here**\n- #1 Sun 29 Nov 2026, 03:00 (Europe/Berlin): make tea"
    )
    clock.advance(hours=17)
    assert await deliver(chat) == ["⏰ make tea"]


async def test_the_other_half_of_a_repeating_time_replaces_the_series(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    reply = await chat.say_one("/remind here every day at 7 pills")
    assert "07:00 could also be 19:00; I picked 07:00 as written." in reply
    evening = int(datetime(2026, 11, 28, 19, 0, tzinfo=UTC).timestamp())
    assert await chat.say_one(f"/press remind:alt:1:{evening}") == (
        "Moved: #2 pills (replaces #1) to Sat 28 Nov 2026, 19:00 (UTC), in 10 hours."
    )
    assert await chat.say_one("/remind list") == (
        "**Your reminders here**\n- #2 Sat 28 Nov 2026, 19:00 (UTC): pills (every day at 19:00)"
    )


async def test_a_button_for_a_past_or_foreign_time_moves_nothing(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone UTC")
    await chat.say("/remind me at 11 tea")
    past = int(datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp())
    assert await chat.say_one(f"/press remind:alt:1:{past}") == (
        "That time is already past; create the reminder again."
    )
    foreign = await chat.say_one("/press remind:alt:1:soon")
    assert foreign.split("\n")[:2] == [
        "That button is not one I made; create the reminder again.",
        "Usage:",
    ]
    assert await chat.say_one(f"/press remind:alt:7:{past + 86400}") == (
        "I have no reminder #7 for you; /remind list shows yours."
    )
    assert await chat.say_one("/remind list") == (
        "**Your reminders here**\n- #1 Sat 28 Nov 2026, 11:00 (UTC): tea"
    )


async def test_reminders_are_read_in_the_language_of_the_settings(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone Europe/Berlin")
    await chat.say("/settings language de")
    reply = await chat.say_one("/remind me morgen um 9: Meeting vorbereiten")
    assert reply.startswith("OK, reminder #1: **Meeting vorbereiten**\n")
    assert "Next: Sun 29 Nov 2026, 09:00 (Europe/Berlin), in 23 hours" in reply


async def test_a_reminder_without_me_is_for_the_sender_in_their_language(
    make_chat, registry_with_core_and_reminders, clock
) -> None:
    """The issue's forms: `/remind morgen um 9: Meeting vorbereiten`, no "me" needed."""
    chat = await open_chat(make_chat, registry_with_core_and_reminders, clock)
    await chat.say("/settings timezone Europe/Berlin")
    await chat.say("/settings language de")
    german = await chat.say_one("/remind morgen um 9: Meeting vorbereiten")
    assert german.startswith("OK, reminder #1: **Meeting vorbereiten**"), german
    await chat.say("/settings language zh")
    chinese = await chat.say_one("/remind 明天上午9点提醒我开会")
    assert chinese.startswith("OK, reminder #2: **开会**"), chinese
    await chat.say("/settings language en")
    english = await chat.say_one("/remind tomorrow at 6pm eat dinner")
    assert english == (
        "OK, reminder #3: **eat dinner**\n"
        "Next: Sun 29 Nov 2026, 18:00 (Europe/Berlin), in 1 day 8 hours\n"
        "Cancel with `/remind cancel 3`."
    )
