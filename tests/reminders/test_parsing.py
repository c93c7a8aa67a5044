"""The reminder grammar, table-driven, on a fixed clock in several zones and across DST changes.

Each row: the clock (UTC), the user's zone, what follows ``/remind me``, and the
expected first time as ISO wall-clock-with-offset in that zone (so both the
wall-clock time and the UTC instant are checked), the RRULE and the text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UsageError
from tasks.reminders.formatting import describe_rrule
from tasks.reminders.parsing import next_occurrence, parse_duration, parse_reminder

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
    (SAT, BER, "at 9 pay rent", "2026-11-29T09:00+01:00", None, "pay rent"),  # 9 has passed
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
    (SAT, TYO, "at 9 breakfast", "2026-11-29T09:00+09:00", None, "breakfast"),
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
    (SAT, "UTC", "at 8:00 standup", "2026-11-29T08:00+00:00", None, "standup"),
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
        ("every monday standup", "at what time"),
        ("every day stretch", "at what time"),
        ("blorp zorp", "can't tell when"),
        ("in 10 minutes", "What should I remind you of"),
        ("every 2 minutes spam", "every 5 minutes"),
        ("every day at 25:00 x", "not a time of day"),
        ("every fortnight at 9 x", "can't read that repetition"),
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
        ("half an hour", timedelta(minutes=30)),
    ],
)
def test_snooze_durations(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["soon", "0m", "2 years", "-5m"])
def test_bad_snooze_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


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
        parse_duration(text)
