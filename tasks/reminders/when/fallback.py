"""The hand-written grammar, used only where Duckling cannot be imported.

Duckling ships as a Linux x86_64 wheel; on other platforms the bot still reads the
common English forms with this grammar (dateparser for dates, our own rules for
"in ..." and "every ..."). It follows the same conventions where it can: a date
alone means 09:00, a bare clock time its next occurrence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser
from dateutil.relativedelta import relativedelta

from bot.errors import UsageError
from bot.reminders.occurrence import localize, next_occurrence
from tasks import _durations as durations
from tasks._numbers import check_span, whole_number
from tasks.reminders.when import relative
from tasks.reminders.when.bounds import already_past, horizon, too_far
from tasks.reminders.when.result import ParsedWhen

ACCEPTED_FORMS = (
    "in 10 minutes · tomorrow at 9 · on friday 15:30 · 2026-12-24 18:00 · "
    "every weekday at 9:00 · every monday at 9am · every 2 hours · "
    "every month on the 1st at 9 · every other wednesday at 10"
)

_AMOUNT = r"(?:\d+|an?|one|two|three|four|five|six|ten|fifteen|twenty|thirty|half\s+an?)"
_UNIT = r"(?:minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?|years?)"
_PIECE = rf"\b{_AMOUNT}\s*{_UNIT}\b"
_RELATIVE = re.compile(rf"^in\s+(?P<span>{_PIECE}(?:\s*(?:,|and|,\s*and)\s*{_PIECE})*)\b", re.I)

_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY_CODES = dict(zip(_DAYS, ["MO", "TU", "WE", "TH", "FR", "SA", "SU"], strict=True))
_DAY = r"(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?s?"
_TIME = r"(?P<time>\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}|noon|midnight)"
_TIME_AFTER_AT = r"(?P<attime>\d{1,2}(?::\d{2})?\s*(?:am|pm)?|noon|midnight)"
_RECURRENCE = re.compile(
    r"^every\s+(?:(?P<other>other)\s+|(?P<n>\d+)\s+)?"
    rf"(?P<what>weekdays?|weekends?|days?|weeks?|months?|years?|hours?|minutes?|mins?"
    rf"|{_DAY}(?:\s*(?:,|and|,\s*and)\s*{_DAY})*)\b"
    r"(?:\s+on\s+the\s+(?P<monthday>\d{1,2})(?:st|nd|rd|th)?\b)?"
    rf"(?:\s+at\s+{_TIME_AFTER_AT}\b|\s+{_TIME}(?=\s|$))?",
    re.I,
)
_TIME_WORDS = re.compile(
    r"\d:\d\d|\d\s*(?:am|pm)\b|\bat\s+\d|\bnoon\b|\bmidnight\b|\btonight\b", re.I
)
_BARE_HOUR = re.compile(r"\bat\s+(\d{1,2})(?![\d:.]|\s*(?:am|pm)\b)", re.I)
_DATE_HINT = re.compile(
    r"\d|today|tomorrow|tonight|noon|midnight|next|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr"
    r"|may|jun|jul|aug|sep|oct|nov|dec",
    re.I,
)
_FILLER = re.compile(r"^(?:to|that|about|:|-|,)\s+", re.I)
DEFAULT_HOUR = 9


def parse(spec: str, now: datetime, zone: str, max_years: int) -> ParsedWhen:
    """Split ``spec`` ("tomorrow at 9 to call Anna") into when and what, in ``zone``."""
    if spec.lower().startswith("every "):
        return _parse_recurrence(spec, now, zone, max_years)
    if match := _RELATIVE.match(spec):
        pieces = durations.pieces(match["span"])
        check_span(pieces, horizon(max_years), too_far(max_years))
        due = relative.after(pieces, now, zone)
        return ParsedWhen(_text(spec[match.end() :]), due, None, False)
    return _parse_absolute(spec, now, zone, max_years)


def _text(rest: str) -> str:
    rest = rest.strip()
    while (stripped := _FILLER.sub("", rest, count=1)) != rest:
        rest = stripped
    return rest.strip()


def _parse_absolute(spec: str, now: datetime, zone: str, max_years: int) -> ParsedWhen:
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    # dateparser does its relative arithmetic on aware times and then converts, which puts
    # "tomorrow at 9" at 10:00 the day after a spring-forward change. So it gets the user's
    # wall clock as a naive base with both zones explicitly UTC (no conversion at all), and
    # the wall-clock result is localized here with zoneinfo.
    settings = {
        "RELATIVE_BASE": local_now,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DATES_FROM": "future",
    }
    words = spec.split(" ")
    for size in range(min(len(words) - 1, 7), 0, -1):  # leave at least one word of text
        expression = " ".join(words[:size])
        if not _DATE_HINT.search(expression):
            continue
        normalized = _BARE_HOUR.sub(r"at \1:00", expression)
        found = dateparser.parse(normalized, languages=["en"], settings=settings)
        if found is None:
            continue
        has_time = bool(_TIME_WORDS.search(normalized))
        if not has_time:
            found = found.replace(hour=DEFAULT_HOUR, minute=0)
        found = found.replace(second=0, microsecond=0)
        if has_time and _only_time(expression):
            # dateparser's "future" preference is unreliable for a bare time: next such time.
            found = local_now.replace(hour=found.hour, minute=found.minute, second=0, microsecond=0)
            if found <= local_now:
                found += timedelta(days=1)
        # Checked on the wall clock: near the years 1 and 9999 the UTC instant does not exist.
        if found - local_now > horizon(max_years):
            raise UsageError(too_far(max_years))
        if local_now - found > timedelta(days=2):
            raise UsageError(already_past(found, zone))
        return ParsedWhen(_text(" ".join(words[size:])), localize(found, zone), None, True)
    raise UsageError(f"I can't tell when that is. Accepted forms: {ACCEPTED_FORMS}.")


def _only_time(expression: str) -> bool:
    without = re.sub(r"\bat\b|\d{1,2}(:\d\d)?\s*(am|pm)?|noon|midnight", "", expression, flags=re.I)
    return not without.strip()


def _parse_recurrence(spec: str, now: datetime, zone: str, max_years: int) -> ParsedWhen:
    match = _RECURRENCE.match(spec)
    if not match:
        raise UsageError(f"I can't read that repetition. Accepted forms: {ACCEPTED_FORMS}.")
    what = match["what"].lower()
    interval = _interval(match, now, max_years)
    time = match["attime"] or match["time"]
    parts: list[str] = []
    if what.startswith(("minute", "min")):
        parts = ["FREQ=MINUTELY"]
    elif what.startswith("hour"):
        parts = ["FREQ=HOURLY"]
    else:
        hour, minute = _clock(time) if time else (DEFAULT_HOUR, 0)
        if what.startswith("weekday"):
            parts = ["FREQ=WEEKLY", "BYDAY=MO,TU,WE,TH,FR"]
        elif what.startswith("weekend"):
            parts = ["FREQ=WEEKLY", "BYDAY=SA,SU"]
        elif what.startswith("day"):
            parts = ["FREQ=DAILY"]
        elif what.startswith("week"):
            parts = ["FREQ=WEEKLY"]
        elif what.startswith("month"):
            parts = ["FREQ=MONTHLY"]
        elif what.startswith("year"):
            parts = ["FREQ=YEARLY"]
        else:
            codes = [_day_code(day) for day in re.findall(_DAY, what, re.I)]
            parts = ["FREQ=WEEKLY", "BYDAY=" + ",".join(dict.fromkeys(codes))]
        if match["monthday"]:
            day = int(match["monthday"])
            if not 1 <= day <= 31:
                raise UsageError("A day of the month is between 1 and 31.")
            parts = ["FREQ=MONTHLY", f"BYMONTHDAY={day}"]
        parts += [f"BYHOUR={hour}", f"BYMINUTE={minute}"]
    if interval > 1:
        parts.insert(1, f"INTERVAL={interval}")
    parts.append("BYSECOND=0")
    rrule = ";".join(parts)
    start = now.replace(second=0, microsecond=0)
    # "every other wednesday" starts on the coming Wednesday, not in the week after next:
    # day-level rules take their first occurrence from the rule without its interval.
    sub_daily = parts[0] in ("FREQ=MINUTELY", "FREQ=HOURLY")
    anchor_rule = rrule if sub_daily else ";".join(p for p in parts if not p.startswith("INT"))
    first = next_occurrence(anchor_rule, zone, start, now)
    if first is None:  # pragma: no cover - the grammar only builds endless rules
        raise UsageError("That repetition never happens.")
    text = _text(spec[match.end() :])
    return ParsedWhen(text, first, rrule, not what.startswith(("minute", "min", "hour")))


def _interval(match: re.Match[str], now: datetime, max_years: int) -> int:
    """The N of "every N <unit>", refused when it never comes round or is out of reach."""
    interval = 2 if match["other"] else whole_number(match["n"] or "1") or 0
    unit = _interval_unit(match["what"].lower(), bool(match["monthday"]))
    if unit == "minutes" and interval < 5:
        raise UsageError("The most often I can repeat is every 5 minutes.")
    if interval < 1:
        raise UsageError(f"Repeat every 1 {unit[:-1]} or more; every 0 {unit} never comes round.")
    too_rare = f"Repeat at most every {max_years} years; I keep reminders only that far ahead."
    check_span([(interval, unit)], horizon(max_years), too_rare)
    if now + relativedelta(**{unit: interval}) > now + relativedelta(years=max_years):
        raise UsageError(too_rare)
    return interval


def _interval_unit(what: str, monthday: bool) -> str:
    """The unit "every N ..." counts in: named weekdays repeat by the week, "on the 1st" monthly."""
    if what.startswith(("minute", "min")):
        return "minutes"
    if what.startswith("hour"):
        return "hours"
    if monthday:
        return "months"
    for prefix in ("day", "month", "year"):
        if what.startswith(prefix):
            return prefix + "s"
    return "weeks"


def _clock(text: str) -> tuple[int, int]:
    cleaned = text.lower().replace(" ", "")
    if cleaned == "noon":
        return 12, 0
    if cleaned == "midnight":
        return 0, 0
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(am|pm)?", cleaned)
    if not match:
        raise UsageError(f"I can't read {text!r} as a time of day; try 9:00 or 9am.")
    hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
    if half:
        if not 1 <= hour <= 12:
            raise UsageError(f"{text} is not a time of day.")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise UsageError(f"{text} is not a time of day.")
    return hour, minute


def _day_code(word: str) -> str:
    word = word.lower()
    for day in _DAYS:
        if day.startswith(word[:3]):
            return _DAY_CODES[day]
    raise UsageError(f"{word} is not a day of the week.")  # pragma: no cover - regex-guarded
