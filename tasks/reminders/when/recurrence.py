"""Repeating reminders: "every monday at 9", "daily at 7", "every second tuesday of the month".

Duckling does not read recurrence, so this small grammar does, on the canonical
(English) form of the phrase, and turns it into an RFC 5545 RRULE. What is left of
the phrase goes back to Duckling for the time of day ("at 9", "8pm", "早上8点") and,
for yearly rules, the date ("on march 3"). A time of day is taken as written
("daily at 7" is 07:00); when it could be either half of the day the other half is
the alternative, and parts of the day decide it ("every evening at 8" is 20:00).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time

from bot.errors import UsageError
from tasks._numbers import whole_number
from tasks.reminders.when.phrase import Phrase, Span

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WD = r"(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?"
_WDS = rf"{_WD}s?"
_FULL = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_LIST = rf"{_WDS}(?:\s*(?:,|and|&|or|,\s*and)\s*{_WDS})*"
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
              "twenty": 20, "thirty": 30}  # fmt: skip
_NUM = r"(?:\d+(?:[.,]\d+)?|" + "|".join(_NUM_WORDS) + ")"
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_ORD = r"(?:first|second|third|fourth|fifth|last|\d{1,2}(?:st|nd|rd|th))"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_OF_MONTH = r"\s+of\s+(?:the|each|every|a)\s+month"
_EVERY = r"\bevery\s+"
_UNIT = r"(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|fortnights?|months?|years?)"
_COUNT = r"(?:(?P<other>other|second)\s+|(?P<n>" + _NUM + r")\s+)?"
_POD = r"(?P<pod>morning|afternoon|evening|night|noon)"

_ADVERB = r"daily|weekly|monthly|yearly|annually|hourly|nightly|fortnightly"
#: Plural weekdays repeat ("on mondays"), unless counted ("3 fridays from now").
_PLURAL = rf"(?<!\d\s)(?<!two\s)(?<!three\s)(?<!four\s)(?<!five\s)(?<!six\s)(?P<days>weekdays|weekends|{_FULL}s(?:\s*(?:,|and|&|or)\s*{_FULL}s)*)\b"
_NOT_COUNTED = r"(?!\s+(?:from\s+now|from\s+today|ago|later|after))"

#: (name, pattern) tried in order; the first that matches is the recurrence's core.
CORES = [
    ("setpos", re.compile(rf"{_EVERY}(?P<ord>{_ORD})\s+(?P<wd>{_WD}){_OF_MONTH}\b")),
    ("setpos", re.compile(rf"\b(?:every\s+month|monthly)\s+on\s+(?:the\s+)?(?P<ord>{_ORD})\s+(?P<wd>{_WD})\b")),
    ("setpos", re.compile(rf"\b(?:on\s+)?the\s+(?P<ord>{_ORD})\s+(?P<wd>{_WD})\s+of\s+(?:every|each)\s+month\b")),
    ("monthday", re.compile(rf"{_EVERY}(?:the\s+)?(?P<ord>{_ORD})(?:\s+days?)?{_OF_MONTH}\b")),
    ("monthday", re.compile(rf"\b(?:on\s+)?the\s+(?P<ord>{_ORD})(?:\s+days?)?\s+of\s+(?:every|each)\s+month\b")),
    ("monthday", re.compile(rf"\b(?:every\s+{_COUNT}months?|monthly)\s+on\s+(?:the\s+)?(?P<ord>{_ORD})(?:\s+day)?\b")),
    ("monthday", re.compile(rf"{_EVERY}(?:the\s+)?(?P<ord>\d{{1,2}}(?:st|nd|rd|th))\b(?!\s+{_WD})")),
    ("yearday", re.compile(rf"{_EVERY}(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b")),
    ("yearday", re.compile(rf"{_EVERY}(?:the\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH})\b")),
    ("days", re.compile(rf"{_EVERY}{_COUNT}(?P<days>weekdays?|weekends?|{_LIST})\b(?:\s+days?\b)?(?:\s+{_POD}s?\b)?")),
    ("unit", re.compile(rf"{_EVERY}{_COUNT}{_UNIT}\b")),
    ("pod", re.compile(rf"{_EVERY}{_POD}s?\b")),
    ("adverb", re.compile(rf"\b(?P<adverb>{_ADVERB})\b")),
    ("days", re.compile(rf"\b(?:on\s+)?{_PLURAL}{_NOT_COUNTED}")),
]  # fmt: skip
MARKER = re.compile(
    rf"\bevery\b|\b(?:{_ADVERB})\b"
    rf"|\b(?:on\s+)?{_PLURAL}{_NOT_COUNTED}"
)
_ON_DAYS = re.compile(rf"\b(?:on\s+)?(?P<days>weekdays?|weekends?|{_LIST})\b")
_WEEKDAYS_TOO = re.compile(r"\b(?:on\s+|every\s+)?(?P<days>weekdays|weekends?|weekday)\b")
_ON_SETPOS = re.compile(rf"\bon\s+the\s+(?P<ord>{_ORD})\s+(?P<wd>{_WD})\b")
_ON_MONTHDAY = re.compile(rf"\bon\s+(?:the\s+)?(?P<ord>{_ORD})(?:\s+day)?\b")
_PARTS = re.compile(
    r"\b(?:every\s+|in\s+the\s+|at\s+)?(?P<pod>morning|afternoon|evening|night|noon|tonight)s?\b"
)
_ADVERBS = {"daily": ("DAILY", 1), "weekly": ("WEEKLY", 1), "monthly": ("MONTHLY", 1),
            "yearly": ("YEARLY", 1), "annually": ("YEARLY", 1), "hourly": ("HOURLY", 1),
            "nightly": ("DAILY", 1), "fortnightly": ("WEEKLY", 2)}  # fmt: skip
_FREQS = {"minute": "MINUTELY", "min": "MINUTELY", "hour": "HOURLY", "hr": "HOURLY",
          "day": "DAILY", "week": "WEEKLY", "fortnight": "WEEKLY", "month": "MONTHLY",
          "year": "YEARLY"}  # fmt: skip
POD_HOURS = {"morning": 9, "noon": 12, "afternoon": 15, "evening": 19, "night": 20,
             "tonight": 20}  # fmt: skip


@dataclass
class Rule:
    """The recurrence as read so far; ``rrule()`` writes it out."""

    freq: str
    interval: int = 1
    byday: list[str] = field(default_factory=list)
    bymonthday: int | None = None
    bymonth: int | None = None
    pod: str | None = None
    spans: list[Span] = field(default_factory=list)
    #: whether "every N" was written with N (so "every 0 ..." is caught)
    counted: bool = False

    @property
    def sub_daily(self) -> bool:
        return self.freq in ("MINUTELY", "HOURLY")

    def rrule(self, clock: time | None, *, with_interval: bool = True) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval > 1 and with_interval:
            parts.append(f"INTERVAL={self.interval}")
        if self.bymonth:
            parts.append(f"BYMONTH={self.bymonth}")
        if self.bymonthday:
            parts.append(f"BYMONTHDAY={self.bymonthday}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(self.byday))
        if clock is not None:
            parts += [f"BYHOUR={clock.hour}", f"BYMINUTE={clock.minute}"]
        parts.append("BYSECOND=0")
        return ";".join(parts)


def is_recurring(phrase: Phrase) -> bool:
    return MARKER.search(phrase.canonical.text.lower()) is not None


def read_rule(phrase: Phrase) -> Rule:
    """The recurrence core and its details ("on monday", "on the 1st"), or UsageError."""
    canonical = phrase.canonical.text.lower()
    for name, pattern in CORES:
        match = pattern.search(canonical)
        if match is not None:
            rule = _BUILDERS[name](match)
            rule.spans.append(phrase.canonical_span(match.start(), match.end()))
            _details(rule, phrase, canonical, match)
            return rule
    raise UsageError("I can't read that repetition.")


def _details(rule: Rule, phrase: Phrase, canonical: str, core: re.Match[str]) -> None:
    """ "weekly on tuesday", "every 2 weeks on monday", "every month on the 3rd", "evening"."""
    rest = canonical[: core.start()] + " " * (core.end() - core.start()) + canonical[core.end() :]

    def take(match: re.Match[str]) -> None:
        rule.spans.append(phrase.canonical_span(match.start(), match.end()))

    if rule.freq == "DAILY" and rule.interval == 1 and (found := _WEEKDAYS_TOO.search(rest)):
        rule.freq, rule.byday = "WEEKLY", _weekdays(found["days"])  # "every evening on weekdays"
        take(found)
    if rule.freq == "WEEKLY" and not rule.byday and (found := _ON_DAYS.search(rest)):
        rule.byday = _weekdays(found["days"])
        take(found)
    if rule.freq == "MONTHLY" and not rule.byday and not rule.bymonthday:
        if found := _ON_SETPOS.search(rest):
            rule.byday = [_setpos(found["ord"], found["wd"])]
            take(found)
        elif found := _ON_MONTHDAY.search(rest):
            rule.bymonthday = _monthday(found["ord"])
            take(found)
    if rule.pod is None and (found := _PARTS.search(rest)):
        rule.pod = found["pod"]
        near_clock = re.search(r"\d|\bnoon\b", rest[max(0, found.start() - 12) : found.end() + 12])
        gap = canonical[min(core.end(), found.end()) : max(core.start(), found.start())]
        beside = re.search(r"[^\W\d]{4,}", gap) is None  # "every weekday evening"
        if not near_clock and (beside or not re.search(r"\d", rest)):
            take(found)  # "at 8 in the evening" stays for Duckling; "the evening meds" is text


def _count(match: re.Match[str]) -> tuple[float, bool]:
    if match["other"]:
        return 2, False
    if match["n"]:
        word = match["n"]
        if re.fullmatch(r"\d+[.,]\d+", word):
            return float(word.replace(",", ".")), True
        return _NUM_WORDS.get(word) or whole_number(word) or 0, True
    return 1, False


def _whole(count: float) -> int:
    if count != int(count):
        raise UsageError("Repeat every whole number of days, weeks or months, e.g. every 2 days.")
    return int(count)


def _unit(match: re.Match[str]) -> Rule:
    unit = match["unit"].rstrip("s")
    count, counted = _count(match)
    if unit == "fortnight":
        count *= 2
    if count != int(count) and unit in ("hour", "hr"):  # "every 1.5 hours": every 90 minutes
        return Rule("MINUTELY", round(count * 60), counted=counted)
    return Rule(_FREQS[unit], _whole(count), counted=counted)


def _days(match: re.Match[str]) -> Rule:
    count, counted = _count(match) if "n" in match.groupdict() else (1, False)
    rule = Rule("WEEKLY", _whole(count), _weekdays(match["days"]), counted=counted)
    if match.groupdict().get("pod"):
        rule.pod = match["pod"]
    return rule


def _weekdays(text: str) -> list[str]:
    if text.startswith("weekday"):
        return list(WEEKDAY_CODES[:5])
    if text.startswith("weekend"):
        return ["SA", "SU"]
    found = re.findall(_WD, text)
    return list(dict.fromkeys(_weekday_code(day) for day in found))


def _weekday_code(word: str) -> str:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return WEEKDAY_CODES[names.index(word[:3])]


def _setpos(ordinal: str, weekday: str) -> str:
    number = _ordinal(ordinal)
    if not -1 <= number <= 5 or number == 0:
        raise UsageError("A weekday comes at most five times a month; say first to fifth or last.")
    return f"{number:+d}{_weekday_code(weekday)}".replace("+", "")


def _ordinal(text: str) -> int:
    if text in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[text]
    return int(re.sub(r"\D", "", text))


def _monthday(text: str) -> int:
    day = _ordinal(text)
    if day == -1:
        return -1
    if not 1 <= day <= 31:
        raise UsageError("A day of the month is between 1 and 31.")
    return day


def _build_setpos(match: re.Match[str]) -> Rule:
    return Rule("MONTHLY", byday=[_setpos(match["ord"], match["wd"])])


def _build_monthday(match: re.Match[str]) -> Rule:
    count, counted = _count(match) if "n" in match.groupdict() else (1, False)
    return Rule("MONTHLY", _whole(count), bymonthday=_monthday(match["ord"]), counted=counted)


def _build_yearday(match: re.Match[str]) -> Rule:
    month = _MONTHS.index(match["month"][:3]) + 1
    day = int(match["day"])
    limit = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= limit:
        raise UsageError("That date does not exist; check the day and the month.")
    return Rule("YEARLY", bymonth=month, bymonthday=day)


def _build_pod(match: re.Match[str]) -> Rule:
    return Rule("DAILY", pod=match["pod"])


def _build_adverb(match: re.Match[str]) -> Rule:
    freq, interval = _ADVERBS[match["adverb"]]
    return Rule(freq, interval, pod="night" if match["adverb"] == "nightly" else None)


_BUILDERS = {"setpos": _build_setpos, "monthday": _build_monthday, "yearday": _build_yearday,
             "days": _days, "unit": _unit, "pod": _build_pod, "adverb": _build_adverb}  # fmt: skip


def interval_unit(rule: Rule) -> str:
    """The unit "every N ..." counts in, for bounds and messages."""
    return {"MINUTELY": "minutes", "HOURLY": "hours", "DAILY": "days", "WEEKLY": "weeks",
            "MONTHLY": "months", "YEARLY": "years"}[rule.freq]  # fmt: skip


def first_reading(
    values: list[datetime], pod: str | None, midnight: bool = False
) -> tuple[time, time | None]:
    """A clock time as written ("at 7" is 07:00), and the other half of the day if it
    could be that; a part of the day ("evening") picks the half."""
    times = list(dict.fromkeys(v.time().replace(second=0, microsecond=0) for v in values))
    halves = sorted({t for t in times if any(_twelve_apart(t, u) for u in times)})
    if not halves:
        return times[0], None
    early, late = halves[0], halves[-1]
    if pod in ("afternoon", "evening", "night", "tonight"):
        return late, None
    if pod == "morning":
        return early, None
    if early.hour == 0:  # "at 12": noon, midnight the alternative (unless midnight was said)
        return (early, None) if midnight else (late, early)
    return early, late


def _twelve_apart(a: time, b: time) -> bool:
    return abs((a.hour * 60 + a.minute) - (b.hour * 60 + b.minute)) == 720
