"""Spans counted from now: "in 2.5 hours", "half an hour from now", "3 days later", "+15min".

The span grammar itself ("2.5 hours", "an hour and a half") is :mod:`tasks._durations`,
shared with the other commands that read a length of time. Spans are found in the
canonical (English) form of the phrase, so every language that maps
its words there ("dans 2 heures", "через 2 часа", "2小时后" → "in 2 hours") shares
this grammar. Duckling reads such spans too, but rounds "in 1 month" to a day and
"in 2 years" to a month; here minutes and hours are real elapsed time and days and
longer are calendar steps on the user's wall clock, as the rest of the bot counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.errors import UsageError
from tasks._durations import SPAN, Pieces, pieces, split

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


def after(pieces: Pieces, now: datetime, zone: str) -> datetime:
    """``now`` moved by ``pieces``: "in 1 day" keeps the wall-clock time across a DST
    change, "in 24 hours" is 24 real hours."""
    calendar, absolute = split(pieces)
    moved = now
    if calendar:
        local = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        moved = (local + calendar).replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
    return (moved + absolute).astimezone(UTC)
