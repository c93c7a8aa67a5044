"""Lengths of time as people type them: "10m", "1h 30m", "2 days", "an hour and a half".

One grammar for every command that reads a length of time. Reminders find spans
from now inside a phrase ("in 2 hours", :mod:`tasks.reminders.when.relative`);
``/remind snooze`` reads a snooze length and ``/summarize`` and ``/sentiment`` a
window of chat history through :func:`parse_duration`. Each caller keeps its own
limits and wording: this module reads, the caller decides what it accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from bot.errors import UsageError
from tasks._numbers import check_span, whole_number

UNITS = {
    "minute": "minutes", "minutes": "minutes", "min": "minutes", "mins": "minutes",
    "m": "minutes", "mn": "minutes",
    "hour": "hours", "hours": "hours", "hr": "hours", "hrs": "hours", "h": "hours",
    "day": "days", "days": "days", "d": "days",
    "week": "weeks", "weeks": "weeks", "w": "weeks", "fortnight": "fortnights",
    "fortnights": "fortnights",
    "month": "months", "months": "months", "mo": "months", "mos": "months",
    "year": "years", "years": "years", "y": "years",
}  # fmt: skip
WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
    "forty five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
    "a couple of": 2, "couple of": 2, "a couple": 2, "a pair of": 2,
    "half an": 0.5, "half a": 0.5, "a half": 0.5, "half": 0.5,
}  # fmt: skip
_WORDS = "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in WORD_NUMBERS),
                         key=len, reverse=True))  # fmt: skip
_NUMBER = r"(?:\d+\s+\d+/\d+|\d+(?:[.,]\d+)?|\d+/\d+)"
AMOUNT = rf"(?:{_NUMBER}|{_WORDS})"
_LONG_UNIT = r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|fortnights?|months?|years?)"
UNIT = rf"(?:{_LONG_UNIT}|mn|m|h|d|w|mos?|y)"
#: Digits may touch their unit ("10m"); words may not ("an d" is not "and").
_PIECE = rf"(?:{_NUMBER}\s*{UNIT}|(?:{_WORDS})\s+{_LONG_UNIT})(?:\s+and\s+an?\s+(?:half|quarter))?"
SPAN = rf"{_PIECE}(?:\s*(?:,|and|,\s*and)?\s*{_PIECE})*"
#: "an hour and a half", "an hour and a quarter"
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
#: (amount, unit) pairs, units from :data:`UNITS` values; numbers not yet bounded.
Pieces = list[tuple[float, str]]


_UNIT_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
#: Units of a fixed length; a month or a year depends on the calendar it starts in.
FIXED_UNITS = frozenset({"minutes", "hours", "days", "weeks"})


def pieces(span: str) -> Pieces:
    """``"1 hour and 30 min"`` → ``[(1, "hours"), (30, "minutes")]``."""
    found: Pieces = []
    pattern = rf"(?<!\w)(?:({_NUMBER})\s*({UNIT})|({_WORDS})\s+({_LONG_UNIT}))(?:\s+and\s+an?\s+(half|quarter))?\b"
    for number, short, word, long, half in re.findall(pattern, span, re.I):
        amount, unit = (number, short) if number else (word, long)
        kind = UNITS[unit.lower()]
        number = _amount(amount)
        if kind == "fortnights":
            number, kind = number * 2, "weeks"
        found.append((number + _FRACTIONS.get(half.lower(), 0), kind))
    return found


def _amount(text: str) -> float:
    word = " ".join(text.lower().split())
    if word in WORD_NUMBERS:
        return WORD_NUMBERS[word]
    if "/" in word:
        whole, _, fraction = word.rpartition(" ")
        top, bottom = fraction.split("/")
        return int(whole or 0) + (int(top) / int(bottom) if int(bottom) else 0)
    if re.fullmatch(r"\d+[.,]\d+", word):
        return float(word.replace(",", "."))
    return whole_number(word) or 0


def split(pieces: Pieces) -> tuple[relativedelta, timedelta]:
    """Whole days and longer are calendar steps (wall clock); the rest is absolute time.

    Callers bound ``pieces`` with :func:`tasks._numbers.check_span` first: the
    arithmetic overflows. Fractions of months and years are refused (how long is
    half a month?); fractions of days and weeks are hours.
    """
    calendar = relativedelta()
    absolute = timedelta(0)
    for number, kind in pieces:
        whole = int(number)
        fraction = number - whole
        if kind in ("minutes", "hours"):
            absolute += timedelta(**{kind: number})
            continue
        if kind == "years" and fraction * 12 == int(fraction * 12):  # "in half a year"
            calendar += relativedelta(years=whole, months=int(fraction * 12))
            continue
        if fraction and kind in ("months", "years"):
            raise UsageError(f"Give whole {kind}, or say it in weeks or days.")
        calendar += relativedelta(**{kind: whole})
        if fraction:
            absolute += timedelta(**{kind: fraction})
    return calendar, absolute


def parse_duration(text: str, *, longest: timedelta, refusal: str) -> timedelta | None:
    """``text`` as a length of time when the whole of it is one ("10m", "1h 30m", "2 days").

    None when ``text`` is not a span at all, so a caller can read it as something
    else. A span in months or years (no fixed length) or longer than ``longest``
    raises :class:`UsageError` with ``refusal``; a zero span is returned, for the
    caller to refuse in its own words.
    """
    # "1h30m" is "1h 30m": the grammar takes both, but a piece starts only after a space.
    cleaned = _UNIT_THEN_DIGIT.sub(" ", text.strip())
    if not re.fullmatch(SPAN, cleaned, re.I):
        return None
    found = pieces(cleaned)
    check_span(found, longest, refusal)  # before any arithmetic, which can overflow
    if any(unit not in FIXED_UNITS for _, unit in found):
        raise UsageError(refusal)
    calendar, delta = split(found)
    delta += timedelta(days=calendar.days)  # relativedelta keeps weeks as days
    if delta > longest:
        raise UsageError(refusal)
    return delta
