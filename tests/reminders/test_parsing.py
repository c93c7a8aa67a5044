"""The reminder grammar, table-driven, on a fixed clock in several zones and across DST changes.

Each row: the clock (UTC), the user's zone, what follows ``/remind me``, and the
expected first time as ISO wall-clock-with-offset in that zone (so both the
wall-clock time and the UTC instant are checked), the RRULE and the text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UsageError
from tasks.reminders.formatting import describe_rrule
from tasks.reminders.parsing import next_occurrence, parse_reminder, parse_snooze

SAT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # Berlin 10:00, New York 04:00, Tokyo 18:00
EU_SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the day before 02:00 → 03:00 in Berlin
EU_FALL = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # the day before 03:00 → 02:00 in Berlin
US_SPRING = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)  # New York 12:00 EST
US_FALL = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # New York 12:00 EDT
AU_FALL = datetime(2026, 4, 4, 0, 0, tzinfo=UTC)  # Sydney 11:00 AEDT, DST ends tomorrow

BER, NYC, TYO, CCU, SYD = (
    "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"
)  # fmt: skip
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0"

CASES = [
    # relative: absolute minutes and hours, calendar days and months
    (SAT, BER, "in 10 minutes to stretch", "2026-11-28T10:10+01:00", None, "stretch"),
    (SAT, BER, "in 2 hours and 30 minutes go", "2026-11-28T12:30+01:00", None, "go"),
    (SAT, BER, "in half an hour tea", "2026-11-28T10:30+01:00", None, "tea"),
    (SAT, BER, "in an hour call back", "2026-11-28T11:00+01:00", None, "call back"),
    (SAT, BER, "in 3 days water the plants", "2026-12-01T10:00+01:00", None, "water the plants"),
    (SAT, BER, "in 2 weeks review", "2026-12-12T10:00+01:00", None, "review"),
    (SAT, BER, "in 1 month invoice", "2026-12-28T10:00+01:00", None, "invoice"),
    (SAT, BER, "in 90 min break", "2026-11-28T11:30+01:00", None, "break"),
    (SAT, BER, "in 5m tea", "2026-11-28T10:05+01:00", None, "tea"),
    (SAT, BER, "in 2 months dentist", "2027-01-28T10:00+01:00", None, "dentist"),
    # one-off dates and times through dateparser
    (SAT, BER, "tomorrow at 9 to call Anna", "2026-11-29T09:00+01:00", None, "call Anna"),
    (SAT, BER, "tomorrow at 9am gym", "2026-11-29T09:00+01:00", None, "gym"),
    (SAT, BER, "tomorrow 18:30 dinner", "2026-11-29T18:30+01:00", None, "dinner"),
    (SAT, BER, "tomorrow noon lunch", "2026-11-29T12:00+01:00", None, "lunch"),
    (SAT, BER, "tomorrow buy milk", "2026-11-29T09:00+01:00", None, "buy milk"),
    (SAT, BER, "on friday 15:30 send the report", "2026-12-04T15:30+01:00", None, "send the report"),
    (SAT, BER, "friday at 3pm demo", "2026-12-04T15:00+01:00", None, "demo"),
    (SAT, BER, "on monday standup notes", "2026-11-30T09:00+01:00", None, "standup notes"),
    (SAT, BER, "next monday review", "2026-11-30T09:00+01:00", None, "review"),
    (SAT, BER, "2026-12-24 18:00 dinner", "2026-12-24T18:00+01:00", None, "dinner"),
    (SAT, BER, "2026-12-24 presents", "2026-12-24T09:00+01:00", None, "presents"),
    (SAT, BER, "24.12.2026 18:00 dinner", "2026-12-24T18:00+01:00", None, "dinner"),
    (SAT, BER, "december 24 at 18:00 dinner", "2026-12-24T18:00+01:00", None, "dinner"),
    (SAT, BER, "dec 31 23:59 party", "2026-12-31T23:59+01:00", None, "party"),
    # "at 9" without am/pm: the next future of 09:00 and 21:00 (corpus conventions)
    (SAT, BER, "at 9 pay rent", "2026-11-28T21:00+01:00", None, "pay rent"),
    (SAT, BER, "at 9am pay rent", "2026-11-29T09:00+01:00", None, "pay rent"),  # 9 has passed
    (SAT, BER, "at 18:00 cook", "2026-11-28T18:00+01:00", None, "cook"),
    (SAT, BER, "at 10:30 coffee", "2026-11-28T10:30+01:00", None, "coffee"),
    (SAT, BER, "at 9pm bed", "2026-11-28T21:00+01:00", None, "bed"),
    (SAT, BER, "5 jan 2027 10:00 taxes", "2027-01-05T10:00+01:00", None, "taxes"),
    # recurrences
    (SAT, BER, "every weekday at 9:00 stand-up", "2026-11-30T09:00+01:00", WEEKDAYS, "stand-up"),
    (SAT, BER, "every monday at 9am team", "2026-11-30T09:00+01:00",
     "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "team"),
    (SAT, BER, "every 2 hours drink water", "2026-11-28T12:00+01:00",
     "FREQ=HOURLY;INTERVAL=2;BYSECOND=0", "drink water"),
    (SAT, BER, "every month on the 1st at 9 rent", "2026-12-01T09:00+01:00",
     "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "rent"),
    (SAT, BER, "every other wednesday at 10 sync", "2026-12-02T10:00+01:00",
     "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=10;BYMINUTE=0;BYSECOND=0", "sync"),
    (SAT, BER, "every day at 7:30 run", "2026-11-29T07:30+01:00",
     "FREQ=DAILY;BYHOUR=7;BYMINUTE=30;BYSECOND=0", "run"),
    (SAT, BER, "every day 7:30 run", "2026-11-29T07:30+01:00",
     "FREQ=DAILY;BYHOUR=7;BYMINUTE=30;BYSECOND=0", "run"),
    (SAT, BER, "every mon, wed and fri at 18:00 gym", "2026-11-30T18:00+01:00",
     "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=18;BYMINUTE=0;BYSECOND=0", "gym"),
    (SAT, BER, "every 3 days at 8am water", "2026-11-29T08:00+01:00",
     "FREQ=DAILY;INTERVAL=3;BYHOUR=8;BYMINUTE=0;BYSECOND=0", "water"),
    (SAT, BER, "every weekend at 10:00 hike", "2026-11-29T10:00+01:00",
     "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=10;BYMINUTE=0;BYSECOND=0", "hike"),
    (SAT, BER, "every week at 8:00 report", "2026-12-05T08:00+01:00",
     "FREQ=WEEKLY;BYHOUR=8;BYMINUTE=0;BYSECOND=0", "report"),
    (SAT, BER, "every 30 minutes stretch", "2026-11-28T10:30+01:00",
     "FREQ=MINUTELY;INTERVAL=30;BYSECOND=0", "stretch"),
    (SAT, BER, "every month on the 15th at 12:00 report", "2026-12-15T12:00+01:00",
     "FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=12;BYMINUTE=0;BYSECOND=0", "report"),
    (SAT, BER, "every sunday at noon call mom", "2026-11-29T12:00+01:00",
     "FREQ=WEEKLY;BYDAY=SU;BYHOUR=12;BYMINUTE=0;BYSECOND=0", "call mom"),
    # other zones: "at 9" means 9 where the user is
    (SAT, NYC, "tomorrow at 9 to call Anna", "2026-11-29T09:00-05:00", None, "call Anna"),
    (SAT, NYC, "at 9 standup", "2026-11-28T09:00-05:00", None, "standup"),  # still ahead there
    (SAT, NYC, "in 10 minutes stretch", "2026-11-28T04:10-05:00", None, "stretch"),
    (SAT, NYC, "every weekday at 9:00 stand-up", "2026-11-30T09:00-05:00", WEEKDAYS, "stand-up"),
    (SAT, NYC, "on friday 15:30 report", "2026-12-04T15:30-05:00", None, "report"),
    (SAT, TYO, "at 9am breakfast", "2026-11-29T09:00+09:00", None, "breakfast"),
    (SAT, TYO, "at 9 breakfast", "2026-11-28T21:00+09:00", None, "breakfast"),
    (SAT, TYO, "at 21:00 call", "2026-11-28T21:00+09:00", None, "call"),
    (SAT, TYO, "every day at 8:00 pills", "2026-11-29T08:00+09:00",
     "FREQ=DAILY;BYHOUR=8;BYMINUTE=0;BYSECOND=0", "pills"),
    (SAT, CCU, "at 14:00 tea", "2026-11-29T14:00+05:30", None, "tea"),
    (SAT, CCU, "in 45 minutes meeting", "2026-11-28T15:15+05:30", None, "meeting"),
    (SAT, CCU, "tomorrow at 10:15 bank", "2026-11-29T10:15+05:30", None, "bank"),
    (SAT, SYD, "tomorrow at 9 beach", "2026-11-29T09:00+11:00", None, "beach"),
    (SAT, SYD, "every monday at 9am team", "2026-11-30T09:00+11:00",
     "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "team"),
    (SAT, "UTC", "2026-12-24 18:00 dinner", "2026-12-24T18:00+00:00", None, "dinner"),
    (SAT, "UTC", "at 08:00 standup", "2026-11-29T08:00+00:00", None, "standup"),
    (SAT, "UTC", "at 8:00 standup", "2026-11-28T20:00+00:00", None, "standup"),
    # DST: a skipped wall-clock time moves forward by the gap, an ambiguous one is the first
    (EU_SPRING, BER, "tomorrow at 2:30 check", "2026-03-29T03:30+02:00", None, "check"),
    (EU_SPRING, BER, "every day at 2:30 backup", "2026-03-29T03:30+02:00",
     "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", "backup"),
    (EU_SPRING, BER, "in 24 hours recheck", "2026-03-29T14:00+02:00", None, "recheck"),
    (EU_SPRING, BER, "in 1 day recheck", "2026-03-29T13:00+02:00", None, "recheck"),
    (EU_SPRING, BER, "tomorrow at 9 coffee", "2026-03-29T09:00+02:00", None, "coffee"),
    (EU_FALL, BER, "tomorrow at 2:30 check", "2026-10-25T02:30+02:00", None, "check"),
    (EU_FALL, BER, "every day at 2:30 backup", "2026-10-25T02:30+02:00",
     "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", "backup"),
    (EU_FALL, BER, "in 24 hours recheck", "2026-10-25T13:00+01:00", None, "recheck"),
    (US_SPRING, NYC, "tomorrow at 2:30 check", "2026-03-08T03:30-04:00", None, "check"),
    (US_SPRING, NYC, "tomorrow at 9 coffee", "2026-03-08T09:00-04:00", None, "coffee"),
    (US_FALL, NYC, "tomorrow at 1:30 check", "2026-11-01T01:30-04:00", None, "check"),
    (US_FALL, NYC, "every day at 9:00 walk", "2026-11-01T09:00-05:00",
     "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "walk"),
    (AU_FALL, SYD, "tomorrow at 9 beach", "2026-04-05T09:00+10:00", None, "beach"),
]  # fmt: skip


@pytest.mark.parametrize(("now", "zone", "spec", "expected", "rrule", "text"), CASES)
def test_expression(
    now: datetime, zone: str, spec: str, expected: str, rrule: str | None, text: str
) -> None:
    parsed = parse_reminder(spec, now=now, zone=zone)
    assert parsed.due_at.tzinfo is UTC
    assert parsed.due_at.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes") == expected
    assert parsed.rrule == rrule
    assert parsed.text == text


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({zone for _, zone, *_ in CASES}) >= 5


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("2020-01-01 10:00 old news", "already past"),
        ("2035-01-01 10:00 far away", "too far ahead"),
        ("blorp zorp", "can't tell when"),
        ("every 2 minutes spam", "every 5 minutes"),
        ("every day at 25:00 x", "not a time of day"),
        ("every blue moon at 9 x", "can't read that repetition"),
        ("", "Tell me when and what"),
    ],
)
def test_bad_requests_get_a_clear_reply(spec: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_reminder(spec, now=SAT, zone=BER)


def test_far_ahead_limit_is_configurable() -> None:
    assert parse_reminder("2035-01-01 10:00 ok", now=SAT, zone=BER, max_years=10).text == "ok"


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)),
        ("2 days", timedelta(days=2)),
        ("in 90 minutes", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        ("half an hour", timedelta(minutes=30)),
    ],
)
def test_snooze_durations(text: str, span: timedelta) -> None:
    assert parse_snooze(text) == span


@pytest.mark.parametrize("text", ["soon", "0m", "2 years", "-5m"])
def test_bad_snooze_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_snooze(text)


@pytest.mark.parametrize(
    ("zone", "first", "expected"),
    [
        # Berlin spring-forward (29 March): 02:30 does not exist that day, so 03:30 CEST.
        (BER, "2026-03-27T02:30+01:00",
         ["2026-03-28T02:30+01:00", "2026-03-29T03:30+02:00", "2026-03-30T02:30+02:00"]),
        # Berlin fall-back (25 October): 02:30 happens twice; it fires once, at the first.
        (BER, "2026-10-23T02:30+02:00",
         ["2026-10-24T02:30+02:00", "2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"]),
        # New York fall-back (1 November).
        (NYC, "2026-10-30T02:30-04:00",
         ["2026-10-31T02:30-04:00", "2026-11-01T02:30-05:00", "2026-11-02T02:30-05:00"]),
    ],
)  # fmt: skip
def test_daily_0230_keeps_its_wall_clock_across_dst(
    zone: str, first: str, expected: list[str]
) -> None:
    rule = "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0"
    tz = ZoneInfo(zone)
    occurrence = datetime.fromisoformat(first).astimezone(UTC)
    seen = []
    for _ in expected:
        following = next_occurrence(rule, zone, occurrence, occurrence)
        assert following is not None
        seen.append(following.astimezone(tz).isoformat(timespec="minutes"))
        occurrence = following
    assert seen == expected


def test_every_other_week_skips_a_week_after_the_first() -> None:
    rule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=10;BYMINUTE=0;BYSECOND=0"
    first = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert next_occurrence(rule, BER, first, first) == datetime(2026, 12, 16, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (WEEKDAYS, "every weekday at 09:00"),
        ("FREQ=HOURLY;INTERVAL=2;BYSECOND=0", "every 2 hours"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=10;BYMINUTE=0", "every other Wednesday at 10:00"),
        ("FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0", "every month on the 1st at 09:00"),
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=18;BYMINUTE=0",
         "every Monday, Wednesday and Friday at 18:00"),
    ],
)  # fmt: skip
def test_recurrences_are_described_in_words(rule: str, words: str) -> None:
    assert describe_rrule(rule) == words


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("every 0 hours x", "Repeat every 1 hour or more; every 0 hours never comes round."),
        ("every 00 days at 9 x", "Repeat every 1 day or more"),
        ("every 0 weeks at 9 x", "Repeat every 1 week or more"),
        ("every 0 weekdays at 9 x", "Repeat every 1 week or more"),
        ("every 0 friday at 9 x", "Repeat every 1 week or more"),
        ("every 0 months at 9 x", "Repeat every 1 month or more"),
        ("every 0 months on the 3rd at 9 x", "Repeat every 1 month or more"),
        ("every 0 years at 9 x", "Repeat every 1 year or more"),
        ("every 0 minutes x", "every 5 minutes"),
        ("every other minute x", "every 5 minutes"),
        ("every 6 years at 9 x", "Repeat at most every 5 years"),
        ("every 61 months at 9 x", "Repeat at most every 5 years"),
        ("every 99999 years at 9 x", "Repeat at most every 5 years"),
        ("every 99999999999999999999 hours x", "Repeat at most every 5 years"),
        ("every " + "9" * 5000 + " days at 9 x", "Repeat at most every 5 years"),
    ],
)
def test_intervals_that_never_come_round_or_are_out_of_reach_are_refused(
    spec: str, complaint: str
) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_reminder(spec, now=SAT, zone=BER)


def test_the_longest_interval_within_reach_is_accepted() -> None:
    assert parse_reminder("every 5 years at 9 x", now=SAT, zone=BER).rrule == (
        "FREQ=YEARLY;INTERVAL=5;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    )
    assert parse_reminder("every 60 months at 9 x", now=SAT, zone=BER).rrule.startswith(
        "FREQ=MONTHLY;INTERVAL=60;"
    )


@pytest.mark.parametrize(
    ("spec", "zone", "complaint"),
    [
        ("in 9999999999999 minutes x", BER, "too far ahead"),
        ("in 99999999999 minutes x", BER, "too far ahead"),
        ("in 99999 years x", BER, "too far ahead"),
        ("in 2147483648 days and 1 hour x", BER, "too far ahead"),
        ("in " + "9" * 5000 + " weeks x", BER, "too far ahead"),
        ("in 61 months x", BER, "too far ahead"),
        ("in 0 days x", BER, "already past"),
        ("9999-12-31 23:59 x", NYC, "too far ahead"),
        ("0001-01-01 00:30 x", BER, "already past"),
    ],
)
def test_huge_spans_and_dates_at_the_ends_of_the_calendar_are_refused(
    spec: str, zone: str, complaint: str
) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_reminder(spec, now=SAT, zone=zone)


def test_a_span_of_exactly_the_limit_is_accepted() -> None:
    assert parse_reminder("in 60 months x", now=SAT, zone=BER).due_at == datetime(
        2031, 11, 28, 9, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["9999999999d", "99999999999 minutes", "2147483648w", "9" * 5000 + "h"]
)
def test_huge_snooze_durations_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="Snooze for between a minute and a year"):
        parse_snooze(text)


# -- issue 11: what people actually type, and never silently wrong ------------------------
#
# Reference: Wednesday 2026-11-25 14:00 in Berlin (the corpus conventions). Expected times
# are Berlin wall-clock times; "every a b c" lists the first three occurrences.

WED = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def _read(spec: str, language: str = "en", zone: str = BER) -> tuple[str, str]:
    parsed = parse_reminder(spec, now=WED, zone=zone, language=language)
    tz = ZoneInfo(zone)
    if parsed.rrule is None:
        return parsed.due_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"), parsed.text
    times = [parsed.due_at]
    for _ in range(2):
        following = next_occurrence(parsed.rrule, zone, times[-1], times[-1])
        assert following is not None
        times.append(following)
    return "every " + " ".join(t.astimezone(tz).strftime("%Y-%m-%dT%H:%M") for t in times), (
        parsed.text
    )


MISREADINGS = {
    "part of day with a clock time": [
        ("tonight at 11 call Anna", "2026-11-25T23:00", "call Anna"),
        ("tomorrow afternoon at 5 pick up the kids", "2026-11-26T17:00", "pick up the kids"),
        ("8 tonight water the plants", "2026-11-25T20:00", "water the plants"),
        ("11 at night check the server", "2026-11-25T23:00", "check the server"),
        ("1 in the afternoon call the bank", "2026-11-26T13:00", "call the bank"),
        ("7 in the morning feed the fish", "2026-11-26T07:00", "feed the fish"),
        ("tomorrow evening 6 call Anna", "2026-11-26T18:00", "call Anna"),
    ],
    "relative forms": [
        ("in 2.5 hours leave", "2026-11-25T16:30", "leave"),
        ("in 1/2 hour tea", "2026-11-25T14:30", "tea"),
        ("half an hour from now tea", "2026-11-25T14:30", "tea"),
        ("15 minutes from now stretch", "2026-11-25T14:15", "stretch"),
        ("5 minutes later check the oven", "2026-11-25T14:05", "check the oven"),
        ("+15min coffee", "2026-11-25T14:15", "coffee"),
        ("in a couple of days call mum", "2026-11-27T14:00", "call mum"),
        ("in 7 days at 5pm return the books", "2026-12-02T17:00", "return the books"),
        ("in 2 days at 9 call the vet", "2026-11-27T09:00", "call the vet"),
        ("3 years from today renew the passport", "2029-11-25T14:00", "renew the passport"),
        ("in 1 month cancel the trial", "2026-12-25T14:00", "cancel the trial"),
        ("in 1h30 leave", "2026-11-25T15:30", "leave"),
    ],
    "clock words": [
        ("a quarter past 3pm stand-up", "2026-11-25T15:15", "stand-up"),
        ("20 past 3 stand-up", "2026-11-25T15:20", "stand-up"),
        ("ten thirty stand-up", "2026-11-25T22:30", "stand-up"),
        ("at three am check the build", "2026-11-26T03:00", "check the build"),
        ("3 oclock am check the build", "2026-11-26T03:00", "check the build"),
        ("15h30 stand-up", "2026-11-25T15:30", "stand-up"),
        ("at 1030 stand-up", "2026-11-26T10:30", "stand-up"),
        ("nine fifty nine a m stand-up", "2026-11-26T09:59", "stand-up"),
        ("3:18a stand-up", "2026-11-26T03:18", "stand-up"),
    ],
    "explicit zones": [
        ("Thursday 8:00 PST call Sam", "2026-11-26T17:00", "call Sam"),
        ("monday 5pm PST call Sam", "2026-12-01T02:00", "call Sam"),  # past midnight here
        ("tomorrow at 9pm PST call Sam", "2026-11-27T06:00", "call Sam"),
        ("9:00 CET call Anna", "2026-11-26T09:00", "call Anna"),  # with a zone: 24-hour
        ("15:00 UTC deploy", "2026-11-25T16:00", "deploy"),
        ("2026-12-01T10:00+05:00 rotate the keys", "2026-12-01T06:00", "rotate the keys"),
        ("2026-12-01T10:00Z rotate the keys", "2026-12-01T11:00", "rotate the keys"),
        ("at 18:00 UTC+3 call Elif", "2026-11-25T16:00", "call Elif"),
        ("at 3pm London time call Tom", "2026-11-25T16:00", "call Tom"),
    ],
    "dates": [
        ("friday send the report", "2026-11-27T09:00", "send the report"),
        ("wednesday send the report", "2026-12-02T09:00", "send the report"),
        ("march 3 dentist", "2027-03-03T09:00", "dentist"),
        ("3/14 pi day", "2027-03-14T09:00", "pi day"),
        ("the first of march rent", "2027-03-01T09:00", "rent"),
        ("march first rent", "2027-03-01T09:00", "rent"),
        ("May twenty-fourth party", "2027-05-24T09:00", "party"),
        ("wednesday next week review", "2026-12-02T09:00", "review"),
        ("friday of next week review", "2026-12-04T09:00", "review"),
        ("this weekend fix the bike", "2026-11-28T09:00", "fix the bike"),
        ("next weekend fix the bike", "2026-12-05T09:00", "fix the bike"),
        ("next weekday file the form", "2026-11-26T09:00", "file the form"),
        ("first tuesday of october vote", "2027-10-05T09:00", "vote"),
        ("last friday of october party", "2027-10-29T09:00", "party"),
        ("last friday of november party", "2026-11-27T09:00", "party"),
        ("3 fridays from now review", "2026-12-11T09:00", "review"),
        ("next month meter reading", "2026-12-01T09:00", "meter reading"),
    ],
    "recurrence": [
        ("daily at 7 pills", "every 2026-11-26T07:00 2026-11-27T07:00 2026-11-28T07:00", "pills"),
        ("weekly on tuesday bins",
         "every 2026-12-01T09:00 2026-12-08T09:00 2026-12-15T09:00", "bins"),
        ("every morning at 8 water",
         "every 2026-11-26T08:00 2026-11-27T08:00 2026-11-28T08:00", "water"),
        ("every year on march 3 birthday",
         "every 2027-03-03T09:00 2028-03-03T09:00 2029-03-03T09:00", "birthday"),
        ("every first of the month rent",
         "every 2026-12-01T09:00 2027-01-01T09:00 2027-02-01T09:00", "rent"),
        ("every 2 weeks on monday at 9 retro",
         "every 2026-11-30T09:00 2026-12-14T09:00 2026-12-28T09:00", "retro"),
        ("every second tuesday of the month book club",
         "every 2026-12-08T09:00 2027-01-12T09:00 2027-02-09T09:00", "book club"),
        ("every weekday evening laptop",
         "every 2026-11-25T19:00 2026-11-26T19:00 2026-11-27T19:00", "laptop"),
        ("call mom every sunday at noon",
         "every 2026-11-29T12:00 2026-12-06T12:00 2026-12-13T12:00", "call mom"),
        ("every other day plants",
         "every 2026-11-26T09:00 2026-11-28T09:00 2026-11-30T09:00", "plants"),
        ("every 1.5 hours stretch",
         "every 2026-11-25T15:30 2026-11-25T17:00 2026-11-25T18:30", "stretch"),
        ("on mondays at 9 gym", "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "gym"),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("category", "spec", "expected", "text"),
    [(category, *row) for category, rows in MISREADINGS.items() for row in rows],
)
def test_every_misreading_category_of_the_issue(
    category: str, spec: str, expected: str, text: str
) -> None:
    assert _read(spec) == (expected, text), category


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("today at 1 call Anna", "already past; give a future one."),
        ("february 30 call Anna", "That date does not exist"),
        ("31 april call Anna", "That date does not exist"),
        ("feb 29 2027 call Anna", "That date does not exist"),
        ("at 25:00 call Anna", "not a time of day"),
        ("at 13pm call Anna", "not a time of day"),
        ("at 10:75 call Anna", "not a time of day"),
        ("in a few minutes call Anna", "vague"),
        ("sometime call Anna", "vague"),
        ("last monday call Anna", "in the past"),
        ("in 6 years renew the passport", "too far ahead"),
        ("every 0 days water", "every 0 days never comes round"),
        # a phrase read only in part is refused, not saved at a guessed time
        ("tomorrow at 9 prepare the monday meeting", "I found two times"),
        ("tomorrow at 25 o'clock call Anna", "left over"),
    ],
)
def test_what_cannot_be_read_for_sure_is_refused_with_a_reason(spec: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=re.escape(complaint)):
        parse_reminder(spec, now=WED, zone=BER)


def test_an_hour_without_am_or_pm_names_the_other_reading() -> None:
    parsed = parse_reminder("at 3 tea", now=WED, zone=BER)
    assert parsed.due_at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 15:00 Berlin
    assert parsed.alternative == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 03:00 tomorrow
    assert parsed.assumption == "“at 3” could be 03:00 or 15:00; I picked 15:00 today."


def test_next_friday_on_a_wednesday_is_this_weeks_with_next_weeks_as_the_alternative() -> None:
    parsed = parse_reminder("next friday review", now=WED, zone=BER)
    assert parsed.due_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert parsed.alternative == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert parsed.assumption == (
        "“next friday” could be Fri 27 Nov or Fri 4 Dec; I picked 09:00 on Fri 27 Nov."
    )


def test_a_repetition_at_an_hour_without_am_or_pm_offers_the_other_half() -> None:
    parsed = parse_reminder("every day at 7 pills", now=WED, zone=BER)
    assert parsed.rrule == "FREQ=DAILY;BYHOUR=7;BYMINUTE=0;BYSECOND=0"
    assert parsed.alternative_rrule == "FREQ=DAILY;BYHOUR=19;BYMINUTE=0;BYSECOND=0"
    assert parsed.alternative == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def test_unambiguous_times_name_no_alternative() -> None:
    for spec in ("at 15:30 tea", "tomorrow at 5pm tea", "in 10 minutes tea", "at 09:30 tea"):
        parsed = parse_reminder(spec, now=WED, zone=BER)
        assert parsed.alternative is None and parsed.assumption is None, spec


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        ("de", "morgen um 9: Meeting vorbereiten", "2026-11-26T09:00", "Meeting vorbereiten"),
        ("de", "jeden Montag um 9 Teamrunde",
         "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "Teamrunde"),
        ("fr", "demain à 9h : appeler Anna", "2026-11-26T09:00", "appeler Anna"),
        ("fr", "tous les lundis à 9h : réunion d'équipe",
         "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "réunion d'équipe"),
        ("es", "mañana a las 9: llamar a Ana", "2026-11-26T09:00", "llamar a Ana"),
        ("es", "recuérdame en media hora que salga a por pan", "2026-11-25T14:30",
         "salga a por pan"),
        ("ru", "завтра в 9 позвонить Анне", "2026-11-26T09:00", "позвонить Анне"),
        ("ru", "по понедельникам в 9 вынести мусор",
         "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "вынести мусор"),
        ("zh", "明天上午9点提醒我开会", "2026-11-26T09:00", "开会"),
        ("zh", "每周一早上9点提醒我开周会",
         "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "开周会"),
        # English is understood whatever the user's language
        ("de", "tomorrow at 9am call Anna", "2026-11-26T09:00", "call Anna"),
        ("de", "every monday at 9am team",
         "every 2026-11-30T09:00 2026-12-07T09:00 2026-12-14T09:00", "team"),
        # languages without a table get Duckling's rules for them and English fillers
        ("pt", "amanhã às 9 ligar para a Ana", "2026-11-26T09:00", "ligar para a Ana"),
    ],
)  # fmt: skip
def test_the_users_language_is_understood(
    language: str, spec: str, expected: str, text: str
) -> None:
    assert _read(spec, language) == (expected, text)


def test_the_fallback_grammar_works_where_duckling_cannot_be_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.reminders.when import duckling

    monkeypatch.setitem(duckling._state, "module", None)
    assert not duckling.available()
    assert parse_reminder("tomorrow at 9 to call Anna", now=SAT, zone=BER).due_at == datetime(
        2026, 11, 29, 8, 0, tzinfo=UTC
    )
    assert parse_reminder("in 10 minutes stretch", now=SAT, zone=BER).text == "stretch"
    weekly = parse_reminder("every monday at 9am team", now=SAT, zone=BER)
    assert weekly.rrule == "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    with pytest.raises(UsageError, match="can't tell when"):
        parse_reminder("blorp zorp", now=SAT, zone=BER)


def test_duckling_is_loaded_once_even_when_threads_race() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tasks.reminders.when import duckling

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: parse_reminder("at 5pm x", now=WED, zone=BER), range(8)))
    assert {r.due_at for r in results} == {datetime(2026, 11, 25, 16, 0, tzinfo=UTC)}
    assert duckling.available()


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        # words that look like time words but belong to the text
        ("en", "send the weekly report at 5pm", "2026-11-25T17:00", "send the weekly report"),
        ("fr", "à 8h du soir : pilules du soir", "2026-11-25T20:00", "pilules du soir"),
        ("zh", "后天中午提醒我请同事吃饭", "2026-11-27T12:00", "请同事吃饭"),
        ("en", "tomorrow at 9am ok", "2026-11-26T09:00", "ok"),
        # greetings and politeness open the message but are not the text
        ("en", "hey bot, tomorrow at 9 remind me to call Anna", "2026-11-26T09:00", "call Anna"),
        ("en", "pls remind me on friday at 11am to call the vet", "2026-11-27T11:00",
         "call the vet"),
        ("de", "bitte morgen Nachmittag: Reifen abholen", "2026-11-26T15:00", "Reifen abholen"),
        ("es", "por favor, recuérdame el viernes pagar el seguro", "2026-11-27T09:00",
         "pagar el seguro"),
        ("ru", "эй бот, напомни через 15 минут выключить духовку", "2026-11-25T14:15",
         "выключить духовку"),
        # forms that were read wrong before
        ("en", "in 1 1/2 hours call Dad", "2026-11-25T15:30", "call Dad"),
        ("en", "every weekend day at 10 hike",
         "every 2026-11-28T10:00 2026-11-29T10:00 2026-12-05T10:00", "hike"),
        ("de", "Freitag, 4.12., 15 Uhr: Zahnarzt", "2026-12-04T15:00", "Zahnarzt"),
        ("de", "um 14:00 Londoner Zeit: Call", "2026-11-25T15:00", "Call"),
        ("es", "a las 10:00 hora de México llamar a Lupita", "2026-11-25T17:00",
         "llamar a Lupita"),
        ("ru", "ч/з 2 часа забрать бельё", "2026-11-25T16:00", "забрать бельё"),
        ("ru", "в 16:00 по новосибирскому времени позвонить брату", "2026-11-26T10:00",
         "позвонить брату"),
        ("zh", "2h后提醒我关暖气", "2026-11-25T16:00", "关暖气"),
        ("zh", "星期6晚上提醒我打扫卫生", "2026-11-28T19:00", "打扫卫生"),
        ("zh", "工作日下午6点提醒我下班关电脑",
         "every 2026-11-25T18:00 2026-11-26T18:00 2026-11-27T18:00", "下班关电脑"),
    ],
)  # fmt: skip
def test_text_that_looks_like_time_and_time_that_looks_like_text(
    language: str, spec: str, expected: str, text: str
) -> None:
    if expected == "refused":
        with pytest.raises(UsageError, match=text):
            _read(spec, language)
        return
    assert _read(spec, language) == (expected, text)


@pytest.mark.parametrize(
    ("spec", "local"),
    [("in 10 minutes", "10:10"), ("tonight at 11", "23:00"), ("tomorrow at 9am", "09:00")],
)
def test_a_phrase_that_is_only_a_time_is_read_with_empty_text(spec: str, local: str) -> None:
    parsed = parse_reminder(spec, now=SAT, zone=BER)
    assert parsed.text == ""
    assert f"{parsed.due_at.astimezone(ZoneInfo(BER)):%H:%M}" == local
