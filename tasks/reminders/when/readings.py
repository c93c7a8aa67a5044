"""Our conventions applied to what Duckling found: which instant a phrase means.

Duckling answers with a value and its grain ("tomorrow" is a day, "at 3" an hour with
the readings 15:00 today, 03:00 tomorrow, ...) or with an interval ("tonight" is
18:00-24:00). The bot needs one instant, chosen the same way every time
(docs/reminders.md, "Conventions"):

- a date without a clock time means 09:00; a part of the day without one means its
  usual hour (morning 09:00, afternoon 15:00, evening 19:00, tonight 20:00);
- an hour 1-12 without am/pm means the next future one of its two readings (on a
  named day: the first of that day), and the other reading is offered as the
  alternative;
- "next friday" said before Friday of this week means this week's, and next week's
  is offered as the alternative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from bot.errors import UsageError
from bot.reminders.occurrence import localize
from tasks.reminders.when.duckling import Entity
from tasks.reminders.when.phrase import Phrase, Span, local

DEFAULT_HOUR = 9
PARTS_OF_DAY = {"morning": 9, "noon": 12, "afternoon": 15, "evening": 19, "tonight": 20,
                "night": 20}  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PART_OF_DAY = re.compile(r"\b(morning|noon|afternoon|evening|tonight|night)\b")
_NEXT_WEEKDAY = re.compile(r"\bnext\s+(" + "|".join(WEEKDAYS) + r")\b")
_DATE_GRAINS = ("day", "week", "month", "quarter", "year")
_WEEKDAY = re.compile(r"\b(?:" + "|".join(WEEKDAYS) + r")\b")
#: A clock time that could be either half of the day: "9:15", "9h15", "9 Uhr 15" (not
#: "09:15", "21:15"); and the words that say which half it is.
_HALF_DAY_CLOCK = re.compile(
    r"(?<![\d.:])(?P<h>[1-9]|1[0-2])\s*(?:[:.h]|uhr\s*)(?P<m>[0-5]\d)(?![\d.])", re.I
)
_HALF_DAY_WORDS = re.compile(
    r"(?<![a-z])(?:am|pm|a\.m|p\.m|morning|afternoon|evening|tonight|night|noon|midnight)\b"
)
#: Words that give a part of the day its own date ("tomorrow morning", not "in the morning").
_DATED = re.compile(
    r"\d|\b(?:today|tonight|tomorrow|yesterday|next|this|last|weekend|"
    + "|".join(WEEKDAYS)
    + r"|january|february|march|april|may|june|july|august|september|october|november"
    r"|december)\b"
)
_TODAY = re.compile(r"\b(?:today|this\s+(?:morning|noon|afternoon|evening))\b")
_DEADLINE = re.compile(r"\b(?:by|before|until|till)\b")


HOLIDAYS = "Holidays differ by country; give the date, for example: on 24 December."


class HolidayError(UsageError):
    """A holiday named as the time ("an Weihnachten"): which days it means depends on where."""


@dataclass(frozen=True)
class Reading:
    """One way of reading (part of) a phrase as a time.

    ``wall`` is a naive wall-clock time in the user's zone; readings that do not depend
    on the zone ("in 10 minutes", an ISO time with an offset) carry ``instant`` instead.
    """

    spans: tuple[Span, ...]
    wall: datetime | None = None
    instant: datetime | None = None
    #: "datetime", "date" (no clock time given) or "clock" (a time of day, no date given)
    kind: str = "datetime"
    alternative: datetime | None = None
    assumption: str | None = None
    #: the part of the day named ("evening"), which decides the half of a separate clock time
    part: str | None = None
    #: whether a "part" reading has its own day ("星期天晚上") or only an hour ("вечером")
    dated: bool = True

    def due(self, zone: str) -> datetime:
        if self.instant is not None:
            return self.instant
        assert self.wall is not None
        return localize(self.wall, zone)

    @property
    def zoned(self) -> bool:
        return self.instant is None


def from_entity(entity: Entity, phrase: Phrase, spans: tuple[Span, ...] | None = None) -> Reading:
    """The reading of one Duckling time entity under our conventions.

    ``spans`` are the original spans the entity stands for when it was read from pieces
    put side by side (default: the entity's own span in the normalized phrase).
    """
    spans = spans or (phrase.duckling_span(entity.start, entity.end),)
    canonical = " ".join(phrase.canonical_in(span) for span in spans).lower()
    if "namedholiday" in canonical:
        raise HolidayError(HOLIDAYS)
    said = " ".join(phrase.original[a:b] for a, b in spans)
    normalized = phrase.normalized.text[entity.start : entity.end]
    if entity.is_interval:
        return _interval(entity, phrase, spans, canonical)
    if entity.grain in _DATE_GRAINS:
        reading = _date(entity, phrase, spans, canonical)
    else:
        reading = _clock(entity, phrase, spans, said, canonical, normalized)
        reading = _today(reading, phrase, canonical)
        if "weekend" in canonical:  # Duckling: "am Wochenende um 10" is Friday 22:00
            saturday = Reading(spans, wall=weekend(phrase, "next" in canonical), kind="date")
            return with_clock(saturday, replace(reading, kind="clock"), phrase)
    return _next_weekday(reading, phrase, canonical)


def _today(reading: Reading, phrase: Phrase, canonical: str) -> Reading:
    """ "this morning at 10" said at 14:00 is past; Duckling moves it to tomorrow."""
    today = phrase.local_now.date()
    if reading.wall is None or reading.wall.date() == today or not _TODAY.search(canonical):
        return reading
    if "midnight" in canonical:  # "today at midnight" is the midnight that ends today
        return reading
    return replace(reading, wall=datetime.combine(today, reading.wall.time()), alternative=None,
                   assumption=None)  # fmt: skip


def _date(entity: Entity, phrase: Phrase, spans: tuple[Span, ...], canonical: str) -> Reading:
    first = entity.first
    assert first is not None
    if entity.grain in ("month", "quarter", "year") and re.search(
        r"(?<!\d)\d{1,3}(?!\d)", canonical
    ):
        # "april 31", "february 30": Duckling keeps the month and reads the day as a year.
        raise UsageError("That date does not exist; check the day and the month.")
    day = first.date()
    if "this month" in canonical and day.month != phrase.local_now.month:
        day = day.replace(year=phrase.local_now.year, month=phrase.local_now.month)  # past: refused
    elif day < phrase.local_now.date():  # "am 20.11." said on 25 November: next year's
        day = next((w.date() for w in entity.walls() if w.date() >= phrase.local_now.date()), day)
    return Reading(spans, wall=_at(day, DEFAULT_HOUR), kind="date")


def _clock(
    entity: Entity,
    phrase: Phrase,
    spans: tuple[Span, ...],
    said: str,
    canonical: str,
    normalized: str,
) -> Reading:
    """A value with a clock time: the next future reading unless a date pins it.

    A weekday named is the next one after today, also with a clock time ("wednesday at
    3pm" said on a Wednesday is next week's), as without one.
    """
    now = phrase.local_now
    readings = entity.walls()
    first = entity.first
    assert first is not None
    pinned = len({r.date() for r in readings}) == 1
    literal = literal_hour(normalized, said)
    if literal is None and phrase.named_zone:  # "10:00 EET" is 24-hour time
        written = re.search(r"(?<![\d:.])(\d{1,2})\s*[:h.]\s*[0-5]\d", normalized)
        literal = int(written[1]) if written else None
    if literal is not None:  # "09:30", "1030": 24-hour time, whatever Duckling made of it
        readings = [r for r in readings if r.hour == literal] or readings
        first = readings[0]
    elif (
        not phrase.named_zone  # "9:00 CET" is 24-hour time
        and _says_half_day_clock(normalized, first)
        and not _HALF_DAY_WORDS.search(canonical)
    ):
        readings, first = _both_halves(readings, first, now)
    pick = first
    if "midnight" in canonical and pick.time() == time(0) and pick <= now:
        pick += timedelta(days=1)  # "сегодня в полночь": the midnight that ends today
    if _WEEKDAY.search(canonical) and pick.date() <= now.date():
        later = [r for r in readings if r.date() > now.date()]
        if later:
            pick, readings = later[0], later
    if pick <= now:  # pinned to a day ("today at 6" at 14:00): that day's later reading
        pick = next((r for r in readings if r > now), pick)
    others = [r for r in readings if _twelve_apart(r.time(), pick.time())]
    consecutive = len(readings) > 1 and all(
        (b.date() - a.date()).days <= 1 for a, b in pairwise(readings)
    )
    kind = "clock" if consecutive and not pinned else "datetime"
    if not others:
        return Reading(spans, wall=pick, kind=kind)
    later = [r for r in others if r > now and (pinned or r.date() >= pick.date())]
    alternative = later[0] if later else others[0]
    assumption = (
        f"“{said}” could be {min(pick.time(), alternative.time()):%H:%M} or "
        f"{max(pick.time(), alternative.time()):%H:%M}; I picked {describe(pick, now)}."
    )
    offered = localize(alternative, phrase.zone) if alternative > now else None  # no past button
    return Reading(spans, wall=pick, kind=kind, alternative=offered,
                   assumption=assumption)  # fmt: skip


def _says_half_day_clock(normalized: str, first: datetime) -> bool:
    """Whether the text has a clock time 1-12 that is the one Duckling read ("9:15"; not
    the date "8.12." next to "14 Uhr")."""
    return any(
        (int(m["h"]) % 12, int(m["m"])) == (first.hour % 12, first.minute)
        for m in _HALF_DAY_CLOCK.finditer(normalized)
    )


def literal_hour(normalized: str, said: str) -> int | None:
    """The hour of a clock time written the 24-hour way ("09:30", "1030"), else None."""
    found = re.search(r"(?<![\d:.])0(\d)\s*[:h.]\s*[0-5]\d", normalized) or re.search(
        r"(?<![\d:.-])([01]\d|2[0-3])[0-5]\d(?!\d)", said
    )
    return int(found[1]) if found else None


def _both_halves(
    readings: list[datetime], first: datetime, now: datetime
) -> tuple[list[datetime], datetime]:
    """ "9:15" is 09:15 or 21:15 (Duckling reads some languages' "9:15" as 24-hour time).

    The other half of each reading is added; when no date pins the time, the first
    reading becomes the next future one of either half.
    """
    if any(_twelve_apart(r.time(), first.time()) for r in readings):
        return readings, first
    both = {moment for r in readings for moment in (r, _other_half(r))}
    if len(readings) > 1 and (readings[1] - readings[0]) <= timedelta(days=1):
        both.add(_other_half(first - timedelta(days=1)))  # a bare clock time: 21:15 today too
    both = sorted(both)
    if len({r.date() for r in readings}) == 1:  # pinned to a day: the first of that day
        return [b for b in both if b.date() == first.date()], min(
            b for b in both if b.date() == first.date()
        )
    return both, next((b for b in both if b > now), first)


def _other_half(moment: datetime) -> datetime:
    """The same clock time in the other half of the same day (09:15 ↔ 21:15)."""
    return moment + timedelta(hours=12) if moment.hour < 12 else moment - timedelta(hours=12)


def _twelve_apart(a: time, b: time) -> bool:
    minutes = abs((a.hour * 60 + a.minute) - (b.hour * 60 + b.minute))
    return minutes == 12 * 60


def _interval(entity: Entity, phrase: Phrase, spans: tuple[Span, ...], canonical: str) -> Reading:
    """Parts of the day and the weekend; other intervals are not a moment to remind at."""
    start = entity.bound("from")
    end = entity.bound("to")
    if _DEADLINE.search(canonical) and end is not None:  # "by 5pm", "by friday"
        if end.time() == time(0):
            return Reading(spans, wall=_at(end.date(), DEFAULT_HOUR), kind="date")
        return Reading(spans, wall=end)
    part = _PART_OF_DAY.search(canonical)
    if "weekend" in canonical:
        saturday = weekend(phrase, "next" in canonical)
        if part is not None:  # "这周末下午": Saturday afternoon
            return Reading(spans, wall=_at(saturday.date(), PARTS_OF_DAY[part[1]]))
        return Reading(spans, wall=saturday, kind="date")
    dated = _DATED.search(canonical) is not None
    if part is None or start is None:
        raise UsageError("That is a span of time; say when in it, for example: tomorrow at 9.")
    return Reading(spans, wall=_at(start.date(), PARTS_OF_DAY[part[1]]), kind="part",
                   part=part[1], dated=dated)  # fmt: skip


def weekend(phrase: Phrase, following: bool) -> datetime:
    """Saturday 09:00 of this weekend, or of the next calendar week's."""
    today = phrase.local_now.date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if following:
        monday_next = today + timedelta(days=7 - today.weekday())
        saturday = monday_next + timedelta(days=5)
    wall = _at(saturday, DEFAULT_HOUR)
    if wall <= phrase.local_now:
        wall += timedelta(days=1 if today.weekday() == 5 else 6)
    return wall


def _next_weekday(reading: Reading, phrase: Phrase, canonical: str) -> Reading:
    """ "next friday" on a Wednesday: this week's Friday, next week's as the alternative."""
    match = _NEXT_WEEKDAY.search(canonical)
    if match is None or reading.wall is None:
        return reading
    today = phrase.local_now.date()
    ahead = (WEEKDAYS.index(match[1]) - today.weekday() - 1) % 7 + 1
    nearest = today + timedelta(days=ahead)
    wall = datetime.combine(nearest, reading.wall.time())
    if today.weekday() + ahead > 6:  # already in next week: nothing else it could mean
        return replace(reading, wall=wall)
    other = wall + timedelta(days=7)
    assumption = (
        f"“next {match[1]}” could be {_day(wall)} or {_day(other)}; "
        f"I picked {describe(wall, phrase.local_now)}."
    )
    return replace(
        reading, wall=wall, alternative=localize(other, phrase.zone), assumption=assumption
    )


def with_clock(day: Reading, clock: Reading, phrase: Phrase) -> Reading:
    """A date ("tomorrow", "next weekday") and a separate clock time ("at 5pm") together."""
    assert day.wall is not None and clock.wall is not None
    wall = datetime.combine(day.wall.date(), clock.wall.time())
    alternative = None
    if clock.alternative is not None:
        other = local(clock.alternative, phrase.zone).time()
        first, second = sorted([clock.wall.time(), other])
        if day.part is not None:  # "heute Nacht" + "um 11": the half of the day it names
            late = day.part in ("afternoon", "evening", "tonight", "night") and first.hour != 0
            wall = datetime.combine(day.wall.date(), second if late else first)
            return Reading(day.spans + clock.spans, wall=_after_evening(wall, day.part))
        wall = datetime.combine(day.wall.date(), first)  # on a named day: the first reading
        alternative = localize(datetime.combine(day.wall.date(), second), phrase.zone)
    if day.part is not None:
        wall = _after_evening(wall, day.part)
    assumption = clock.assumption and re.sub(
        r"I picked .*", f"I picked {describe(wall, phrase.local_now)}.", clock.assumption
    )
    return Reading(
        day.spans + clock.spans, wall=wall, alternative=alternative, assumption=assumption
    )


def _day(wall: datetime) -> str:
    return f"{wall:%a} {wall.day} {wall:%b}"


def _after_evening(wall: datetime, part: str) -> datetime:
    """ "ce soir à minuit", "tonight at 1": past midnight, so on the next day."""
    if part in ("evening", "tonight", "night") and wall.hour < 5:
        return wall + timedelta(days=1)
    return wall


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour))


def describe(wall: datetime, now: datetime) -> str:
    """``15:00 today``, ``03:00 tomorrow``, ``09:00 on Fri 4 Dec``."""
    days = (wall.date() - now.date()).days
    when = {0: "today", 1: "tomorrow"}.get(days, f"on {_day(wall)}")
    return f"{wall:%H:%M} {when}"
