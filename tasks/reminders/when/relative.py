"""Spans counted from now: "in 2.5 hours", "half an hour from now", "3 days later", "+15min".

Read from the canonical (English) form of the phrase, so every language that maps
its words there ("dans 2 heures", "через 2 часа", "2小时后" → "in 2 hours") shares
this grammar. Duckling reads such spans too, but rounds "in 1 month" to a day and
"in 2 years" to a month; here minutes and hours are real elapsed time and days and
longer are calendar steps on the user's wall clock, as the rest of the bot counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bot.errors import UsageError
from tasks._numbers import whole_number

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
_BEFORE = r"(?:in|within|after|in\s+about|in\s+approximately)"
_AFTER = r"(?:from\s+now|from\s+today|later|hence|after\s+now|from\s+this\s+moment)"
_TIME = r"(?:(?:'s|')?\s+time|\s+or\s+so)?"  # "in 2 weeks' time", "in an hour or so"
PATTERN = re.compile(
    rf"(?<![\w.])(?:{_BEFORE}\s+(?P<ahead>{SPAN})(?:\s+{_AFTER})?|(?P<behind>{SPAN})\s+{_AFTER})"
    rf"{_TIME}(?![\w])",
    re.I,
)
_VAGUE = re.compile(
    r"\b(?:in|within|after)\s+(?:a\s+few|few|several|some|a\s+bit|a\s+while|a\s+moment|a\s+sec)\b"
    r"|\b(?:a\s+few|several)\s+(?:minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.I,
)
#: "an hour and a half", "an hour and a quarter"
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
#: (amount, unit) pairs, units from :data:`UNITS` values; numbers not yet bounded.
Pieces = list[tuple[float, str]]


@dataclass(frozen=True)
class Relative:
    """A span from now found in the canonical text."""

    start: int
    end: int
    pieces: Pieces


def find(canonical: str) -> Relative | None:
    """The first span-from-now in ``canonical``, or None; vague amounts are refused."""
    if _VAGUE.search(canonical):
        raise UsageError("That is vague; give an amount, for example: in 10 minutes.")
    match = PATTERN.search(canonical)
    if match is None:
        return None
    return Relative(match.start(), match.end(), pieces(match["ahead"] or match["behind"]))


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


def after(pieces: Pieces, now: datetime, zone: str) -> datetime:
    """``now`` moved by ``pieces``: "in 1 day" keeps the wall-clock time across a DST
    change, "in 24 hours" is 24 real hours."""
    calendar, absolute = split(pieces)
    moved = now
    if calendar:
        local = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        moved = (local + calendar).replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
    return (moved + absolute).astimezone(UTC)
