"""A one-off reminder: find every time expression in the phrase and make one reading of them.

Sources, each giving readings with the original spans they explain:

- ISO 8601 timestamps with an offset ("2026-12-01T10:00+05:00"), read exactly;
- spans from now ("in 2 hours", :mod:`.relative`), counted exactly;
- our own words Duckling lacks ("next weekday");
- Duckling's time entities, put under our conventions (:mod:`.readings`).

One reading is the answer. Two (a date here, a clock time there: "tomorrow call Anna at
5pm") are joined when one is a date and the other a clock time, or when Duckling reads
them as one side by side; anything else is refused rather than guessed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from bot.errors import UsageError
from tasks._durations import WORD_NUMBERS
from tasks._numbers import check_span
from tasks.reminders.when import duckling, readings, relative, zones
from tasks.reminders.when.bounds import already_past, horizon, too_far
from tasks.reminders.when.duckling import Entity
from tasks.reminders.when.phrase import Phrase, Span, local
from tasks.reminders.when.readings import Reading

_ISO = re.compile(
    r"(?<![\w-])(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:\s?(?P<offset>Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?"
    r"(?![\w-])(?!:\d)"
)
_NEXT_WORKDAY = re.compile(r"\bnext\s+weekday\b")
_IN_THREE_DAYS = re.compile(r"\bthe\s+day\s+after\s+the\s+day\s+after\s+tomorrow\b")
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NTH_WEEKDAY = re.compile(
    r"\b(?:the\s+)?(?P<ord>first|second|third|fourth|fifth|last)\s+(?P<wd>"
    + "|".join(_WEEKDAY_NAMES)
    + r")\s+(?:(?:of|in)\s+)?(?:(?P<this>the|this)\s+month|(?P<month>"
    + "|".join(_MONTH_NAMES)
    + r"))\b"
)
_SAME_TIME = re.compile(r"\btomorrow\s+at\s+(?:this|the\s+same)\s+time\b")
_NEXT_WEEK_DAY = re.compile(
    r"\b(?P<wd>" + "|".join(_WEEKDAY_NAMES) + r")\s+(?:of|de)\s+(?:the\s+)?"
    r"(?P<which>next\s+week|week\s+after\s+next)\b"
)
#: "a week from tuesday", "two weeks from monday": that day's next occurrence, weeks later.
_WEEKS_FROM = re.compile(
    r"\b(?P<n>a|an|one|two|three|four|\d{1,2})\s+weeks?\s+(?:from|after)\s+(?:this\s+)?(?P<day>"
    + "|".join(_WEEKDAY_NAMES)
    + r"|tomorrow)\b"
)
_PART = re.compile(r"\b(?P<part>morning|afternoon|evening|night|tonight)\b")
_WEEKEND = re.compile(r"\b(?P<which>this|next)\s+weekend\b")
_LAST_DAY = re.compile(r"\b(?:the\s+)?last\s+days?\s+of\s+(?:the|this)\s+month\b")
#: Duckling entities that are not a time: "the week" in "plan the week", "in 6" (EN reads
#: a bare "in 6" as six minutes).
#: Nor units and seasons named in it ("take the second dose", "send the minutes", "swap the
#: winter tyres"): no day or hour is said.
_UNANCHORED = re.compile(
    r"(?:\w{1,3}\s+)?(?:day|week|month|year|quarter)s?|in\s+\d+"
    r"|(?:the\s+)?(?:seconds?|minutes?|hours?)|(?:the\s+|this\s+)?(?:winter|summer|spring|autumn|fall)"
)
_CALENDAR_UNITS = ("days", "weeks", "months", "years")


def read(phrase: Phrase) -> Reading:
    """The one time ``phrase`` names, or UsageError."""
    try:
        iso = _ISO.search(phrase.normalized.text)
        mention = None if iso and iso["time"] else zones.find(phrase.normalized.text)
    except LookupError:
        raise UsageError(
            "I don't know that time zone; name it like Europe/London or UTC+3."
        ) from None
    if mention is None:
        return _read(phrase, [])
    # Read with the clock and calendar of the zone named, then convert to an instant.
    span = phrase.duckling_span(mention.start, mention.end)
    there = replace(phrase, zone=mention.zone, named_zone=True)
    reading = _read(there, [span])
    if reading.instant is not None:
        raise UsageError("Give the time either from now or in a zone, not both.")
    return replace(reading, spans=(*reading.spans, span), instant=reading.due(mention.zone))


def _read(phrase: Phrase, blank: list[Span]) -> Reading:
    found = _explicit(phrase) + _relative(phrase) + _specials(phrase)
    # Duckling does not see what was read exactly already: "in 2 days at 9" is the day
    # after tomorrow at 9 (Duckling: the first 9 o'clock after now + 2 days).
    # Nor holiday names: beside a real date they are text ("jan 1st at 10am new year's swim"),
    # alone or beside a clock time only they are refused below.
    text = blanked(phrase, blank + [s for reading in found for s in reading.spans]
                   + _holidays(phrase))  # fmt: skip
    holidays: list[UsageError] = []
    for entity in time_entities(phrase, text):
        try:
            found.append(readings.from_entity(entity, phrase))
        except readings.HolidayError as exc:  # "marché de Noël" is text when a time is given
            holidays.append(exc)
    found += _parts_of_day(phrase, found)
    named = holidays or re.search(r"\bnamedholiday\b", phrase.canonical.text.lower())
    if named and not any(_has_day(r) for r in found):  # "an Heiligabend um 18 Uhr"
        raise readings.HolidayError(readings.HOLIDAYS)
    if not found:
        raise UsageError("I can't tell when that is.")
    found.sort(key=lambda r: r.spans[0])
    result = found[0]
    for other in found[1:]:
        result = _join(result, other, phrase)
    return result


def _holidays(phrase: Phrase) -> list[Span]:
    """The original spans of the holiday names in the phrase."""
    return [phrase.canonical_span(m.start(), m.end())
            for m in re.finditer(r"\bnamedholiday\b", phrase.canonical.text.lower())]  # fmt: skip


def _has_day(reading: Reading) -> bool:
    """Whether a reading names its own day: a clock time or "abends" beside a holiday
    does not, so the holiday would be what dates it (and holidays are refused)."""
    if reading.instant is not None:
        return True
    return reading.kind not in ("clock", "part") or (reading.kind == "part" and reading.dated)


def time_entities(phrase: Phrase, text: str) -> list[Entity]:
    """Duckling's time entities in ``text`` (a normalized view of the phrase) that name a
    time: not latent ones ("7"), not a bare "the week" inside the reminder text."""
    language = phrase.language.duckling or phrase.language.code
    found = duckling.entities(text, language, phrase.now, phrase.zone)
    unique = {(e.start, e.end): e for e in found}.values()  # Duckling repeats some entities
    return [e for e in unique if e.dim == "time" and not e.latent and not _unanchored(phrase, e)]


def _unanchored(phrase: Phrase, entity: Entity) -> bool:
    words = phrase.canonical_in(phrase.duckling_span(entity.start, entity.end)).lower()
    return _UNANCHORED.fullmatch(words) is not None


def blanked(phrase: Phrase, spans: list[Span]) -> str:
    """The normalized phrase with ``spans`` (original positions) replaced by spaces."""
    rewritten = phrase.normalized
    return "".join(
        " " if any(s >= a and e <= b for a, b in spans) else char
        for char, (s, e) in zip(rewritten.text, rewritten.spans, strict=True)
    )


def _explicit(phrase: Phrase) -> list[Reading]:
    """ISO 8601 dates and times, read exactly; with an offset they name an instant."""
    match = _ISO.search(phrase.normalized.text)  # normalized: "10.12.2026" is ISO there
    if match is None:
        return []
    text = match["date"] + "T" + (match["time"] or f"{readings.DEFAULT_HOUR:02d}:00")
    try:
        wall = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError("That date does not exist; check the day and the month.") from exc
    # Checked on the wall clock: near the years 1 and 9999 the UTC instant does not exist.
    if wall - phrase.local_now > horizon(phrase.max_years):
        raise UsageError(too_far(phrase.max_years))
    if phrase.local_now - wall > timedelta(days=2):
        raise UsageError(already_past(wall, phrase.zone))
    spans = (phrase.duckling_span(match.start(), match.end()),)
    if match["offset"]:
        offset = re.sub(r"Z|UTC|GMT", "+00:00", match["offset"])
        moment = datetime.fromisoformat(text + offset)
        return [Reading(spans, instant=moment)]
    return [Reading(spans, wall=wall, kind="datetime" if match["time"] else "date")]


def _relative(phrase: Phrase) -> list[Reading]:
    found = relative.find(phrase.canonical.text)
    if found is None:
        return []
    check_span(found.pieces, horizon(phrase.max_years), too_far(phrase.max_years))
    moment = relative.after(found.pieces, phrase.now, phrase.zone)
    span = phrase.canonical_span(found.start, found.end)
    if all(unit in _CALENDAR_UNITS and amount == int(amount) for amount, unit in found.pieces):
        # "in 3 days" may still get a clock time elsewhere: "in 3 days call mom at 5pm".
        return [Reading((span,), wall=local(moment, phrase.zone), instant=moment, kind="days")]
    return [Reading((span,), instant=moment, kind="relative")]


def _specials(phrase: Phrase) -> list[Reading]:
    """ "next weekday": the next Monday-to-Friday after today, at 09:00; German
    "überübermorgen": in three days, at 09:00."""
    day = phrase.local_now.date() + timedelta(days=1)
    match = _NEXT_WORKDAY.search(phrase.canonical.text)
    if match is not None:
        while day.weekday() >= 5:
            day += timedelta(days=1)
    elif match := _IN_THREE_DAYS.search(phrase.canonical.text):
        day += timedelta(days=2)
    elif match := _NTH_WEEKDAY.search(phrase.canonical.text.lower()):
        day = _nth_weekday(match, phrase.local_now.date())
    elif match := _LAST_DAY.search(phrase.canonical.text.lower()):
        day = _last_day(phrase.local_now)
    elif match := _NEXT_WEEK_DAY.search(phrase.canonical.text.lower()):
        monday = phrase.local_now.date() + timedelta(days=7 - phrase.local_now.weekday())
        if match["which"].startswith("week"):
            monday += timedelta(days=7)
        day = monday + timedelta(days=_WEEKDAY_NAMES.index(match["wd"]))
    elif match := _WEEKS_FROM.search(phrase.canonical.text.lower()):
        day = _weeks_from(match, phrase.local_now.date())
    elif match := _WEEKEND.search(phrase.canonical.text.lower()):
        day = readings.weekend(phrase, match["which"] == "next").date()
    elif match := _SAME_TIME.search(phrase.canonical.text.lower()):
        span = phrase.canonical_span(match.start(), match.end())
        wall = phrase.local_now.replace(second=0, microsecond=0) + timedelta(days=1)
        return [Reading((span,), wall=wall)]
    else:
        return []
    wall = datetime.combine(day, time(readings.DEFAULT_HOUR))
    span = phrase.canonical_span(match.start(), match.end())
    return [Reading((span,), wall=wall, kind="date")]


def _parts_of_day(phrase: Phrase, found: list[Reading]) -> list[Reading]:
    """A part of the day Duckling left alone ("вечером позвонить папе", "через 2 дня утром"):
    taken when it opens the phrase or touches another time, else it is reminder text."""
    covered = [s for reading in found for s in reading.spans]
    parts = []
    for match in _PART.finditer(phrase.canonical.text.lower()):
        span = phrase.canonical_span(match.start("part"), match.end("part"))
        if any(s[0] <= span[0] and span[1] <= s[1] for s in covered):
            continue
        before = phrase.original[: span[0]]
        touching = any(not phrase.original[min(b, span[1]) : max(a, span[0])].strip(" ,")
                       for a, b in covered)  # fmt: skip
        opening = not phrase.language.lead.sub("", before).strip() or not before.strip()
        if not (touching or opening):
            continue
        hour = readings.PARTS_OF_DAY[match["part"]]
        wall = datetime.combine(phrase.local_now.date(), time(hour))
        if wall <= phrase.local_now:
            wall += timedelta(days=1)
        parts.append(Reading((span,), wall=wall, kind="part", part=match["part"], dated=False))
    return parts


def _near(first: Reading, second: Reading, phrase: Phrase) -> bool:
    """Whether two readings touch, but for short words ("in 2 days in the morning")."""
    gaps = []
    for a, b in first.spans:
        for c, d in second.spans:
            start, end = (b, c) if b <= c else (d, a)
            gaps.append(phrase.original[start:end] if start <= end else "")
    return any(not re.search(r"\w{4,}", gap) for gap in gaps)


#: The hours each part of the day holds, to pick the half of a clock time said with it.
_PART_HOURS = {"morning": range(0, 12), "afternoon": range(12, 19), "evening": range(13, 24),
               "tonight": range(13, 24), "night": range(13, 24)}  # fmt: skip


def _half_of_day(clock: Reading, part: Reading, phrase: Phrase) -> Reading | None:
    """An hour that could be either half of the day, and a part of the day beside it that
    says which ("thursday at 5 in the evening"); None when it says neither."""
    assert clock.wall is not None and clock.alternative is not None
    hours = _PART_HOURS.get(part.part or "")
    walls = (clock.wall, local(clock.alternative, phrase.zone))
    if hours is None or part.dated:
        return None
    fitting = [wall for wall in walls if wall.hour in hours]
    if len(fitting) != 1:
        return None
    return Reading(clock.spans + part.spans, wall=fitting[0])


def _weeks_from(match: re.Match[str], today: date) -> date:
    """ "two weeks from monday": the coming Monday (or tomorrow), then that many weeks on."""
    count = WORD_NUMBERS.get(match["n"]) or int(match["n"])
    if match["day"] == "tomorrow":
        start = today + timedelta(days=1)
    else:
        start = today + timedelta(
            days=(_WEEKDAY_NAMES.index(match["day"]) - today.weekday() - 1) % 7 + 1
        )
    return start + timedelta(weeks=int(count))


def _nth_weekday(match: re.Match[str], today: date) -> date:
    """ "the first tuesday of october": the next such day from today."""
    order = ("first", "second", "third", "fourth", "fifth").index(match["ord"]) + 1 \
        if match["ord"] != "last" else -1  # fmt: skip
    weekday = _WEEKDAY_NAMES.index(match["wd"])
    for offset in range(0, 24):
        year, month = divmod(today.month - 1 + offset, 12)
        month += 1
        if match["month"] and month != _MONTH_NAMES.index(match["month"]) + 1:
            continue
        days = [d for d in range(1, calendar.monthrange(today.year + year, month)[1] + 1)
                if date(today.year + year, month, d).weekday() == weekday]  # fmt: skip
        if order > len(days):
            continue
        found = date(today.year + year, month, days[order - 1 if order > 0 else -1])
        if found > today:
            return found
    raise UsageError("That day does not come in the next two years.")


def _last_day(now: datetime) -> date:
    """ "the last day of the month": this month's, or next month's once it is past."""
    last = date(now.year, now.month, calendar.monthrange(now.year, now.month)[1])
    if last > now.date() or (last == now.date() and now.hour < readings.DEFAULT_HOUR):
        return last
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return date(year, month, calendar.monthrange(year, month)[1])


def _join(first: Reading, second: Reading, phrase: Phrase) -> Reading:
    """Two readings of one phrase as one time, or a refusal naming both."""
    for part, other in ((first, second), (second, first)):
        if part.kind == "part" and other.kind != "part" and not _near(part, other, phrase):
            return other  # "à 9h du soir : médicaments du soir": the second is text
        if part.kind == "part" and other.alternative is not None and _near(part, other, phrase):
            picked = _half_of_day(other, part, phrase)  # "thursday at 5 in the evening"
            if picked is not None:
                return picked
    kinds = {first.kind, second.kind}
    if "clock" in kinds and kinds & {"date", "days", "part"} and len(kinds) == 2:
        day, clock = (second, first) if first.kind == "clock" else (first, second)
        return readings.with_clock(day, clock, phrase)
    part = first if first.kind == "part" else second
    if "part" in kinds and kinds & {"date", "days"} and len(kinds) == 2 and not part.dated:
        # "in 5 days" + "in the morning": that day, at the part's hour
        day = second if part is first else first
        assert day.wall is not None and part.wall is not None
        wall = datetime.combine(day.wall.date(), part.wall.time())
        return Reading(day.spans + part.spans, wall=wall)
    said = [phrase.original[r.spans[0][0] : r.spans[0][1]] for r in (first, second)]
    raise UsageError(
        f"I found two times, “{said[0]}” and “{said[1]}”; give one, for example: "
        "tomorrow at 17:00 call Anna."
    )
