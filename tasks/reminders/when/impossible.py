"""Dates and clock times that do not exist ("february 30", "25:00", "13pm"), refused first.

Duckling reads around them ("feb 30" as February 2030, "at 10:75" as "at 10"), which
would be a silent misread, so the canonical text is checked before anything is read.
"""

from __future__ import annotations

import calendar
import re

from bot.errors import UsageError

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(?P<month>(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?)"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_NOT_CLOCK = r"(?![\d:.h])(?!\s*(?:am|pm|a\.m|p\.m|o'?clock|oclock)\b)"
_DATES = [
    re.compile(rf"(?<![\w]){_MONTH}\s+(?:the\s+)?{_DAY}{_NOT_CLOCK}{_YEAR}(?!\d)"),
    re.compile(rf"(?<![\w:]){_DAY}\s+(?:of\s+)?{_MONTH}(?![a-z]){_YEAR}(?!\d)"),
]
_HH_MM = re.compile(r"(?<![\d:.\w])(?P<h>\d{1,2}):(?P<m>\d{2})(?!\d)")
_HALF_DAY = re.compile(r"(?<![\d:.])(?P<h>\d{1,2})(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)")
_DOTTED = re.compile(r"(?<![\d.])(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})?(?![\d])")
_VAGUE = re.compile(r"\b(?:sometime|someday|eventually|soon|whenever|at\s+some\s+point)\b")
_PAST = re.compile(
    r"\blast\s+(?:week|month|year|weekend|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
    r"(?!\s+(?:of|in|january|february|march|april|may|june|july|august|september|october"
    r"|november|december)\b)"
    r"|\bago\b"
)
_NO_DATE = "That date does not exist; check the day and the month."
_NO_TIME = "That is not a time of day; check the hour and the minutes."


_SLASHED = re.compile(r"(?<![\d/.:])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<year>\d{4}))?(?![\d/])")


def check(canonical: str, *, day_first: bool = False) -> None:
    """Raise UsageError when ``canonical`` names a day or a clock time that cannot be.

    ``day_first``: "25/12" is day/month in the language (month/day in English, where a
    first number above 12 can only be the day).
    """
    text = canonical.lower()
    for match in _SLASHED.finditer(text):
        a, b = int(match["a"]), int(match["b"])
        day, month = (a, b) if day_first or a > 12 else (b, a)
        if not 1 <= month <= 12:
            raise UsageError(_NO_DATE)
        _check_date(month, day, match["year"])
    for pattern in _DATES:
        for match in pattern.finditer(text):
            _check_date(_MONTHS.index(match["month"][:3]) + 1, int(match["day"]), match["year"])
    for match in re.finditer(r"(?P<month>\d{1,2})月(?P<day>\d{1,2})[日号]", text):
        if not 1 <= int(match["month"]) <= 12:
            raise UsageError(_NO_DATE)
        _check_date(int(match["month"]), int(match["day"]), None)
    for match in _DOTTED.finditer(text):
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise UsageError(_NO_DATE)
        _check_date(month, int(match["day"]), match["year"])
    for match in _HH_MM.finditer(text):
        hour, minute = int(match["h"]), int(match["m"])
        if minute > 59 or hour > 24 or (hour == 24 and minute):
            raise UsageError(_NO_TIME)
    if re.search(
        r"(?<![\d:.])(?:1[3-9]|2\d)(?::\d\d)?\s+(?:in\s+the\s+)?(?:morning|evening|night)\b", text
    ):
        raise UsageError(_NO_TIME)
    for match in _HALF_DAY.finditer(text):
        if not 1 <= int(match["h"]) <= 12:
            raise UsageError(_NO_TIME)


def _check_date(month: int, day: int, year: str | None) -> None:
    leap_year = int(year) if year else 2028  # without a year, February 29 comes round
    if not 1 <= day <= calendar.monthrange(leap_year, month)[1]:
        raise UsageError(_NO_DATE)


def check_vague(canonical: str) -> None:
    """Refuse "sometime", "soon" and times already gone ("last monday", "2 hours ago")."""
    text = canonical.lower()
    if _VAGUE.search(text):
        raise UsageError("That is vague; give a time, for example: tomorrow at 9 or in 2 hours.")
    if _PAST.search(text):
        raise UsageError("That is in the past; give a future time.")
