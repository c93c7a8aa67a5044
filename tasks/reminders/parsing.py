"""Reading "when" out of a reminder: one-off times, recurrences, snooze durations.

:func:`parse_reminder` is the one entry point. The work is in :mod:`.when`:

- :mod:`.when.duckling` runs Facebook's Duckling (dates and clock times in many
  languages), loaded once per process;
- :mod:`.when.languages` holds per-language tables: rewrites before Duckling reads,
  the canonical words the grammars below read, and the words around the text;
- :mod:`.when.relative` counts "in 2 hours" exactly; :mod:`.when.recurrence` and
  :mod:`.when.schedule` turn "every monday at 9" into an RRULE;
- :mod:`.when.readings` applies our conventions and notices ambiguity ("at 3");
- :mod:`.when.text` separates the reminder text and refuses leftovers that look like
  time words, so a phrase read only in part is never saved at a guessed time;
- :mod:`.when.fallback` is the older hand grammar, used where Duckling cannot be
  imported (it ships for Linux x86_64 only).

Wall-clock results are localized with :mod:`zoneinfo`: a time skipped by a
spring-forward change moves forward by the gap (02:30 → 03:30), an ambiguous
fall-back time means its first occurrence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bot.errors import UsageError
from bot.reminders.occurrence import localize, next_occurrence
from tasks._durations import parse_duration
from tasks.reminders.when import duckling, fallback, impossible, oneoff, schedule
from tasks.reminders.when.bounds import already_past, format_wall, too_far
from tasks.reminders.when.languages import language_for
from tasks.reminders.when.phrase import Phrase
from tasks.reminders.when.recurrence import is_recurring
from tasks.reminders.when.result import ParsedWhen
from tasks.reminders.when.text import check_edges, check_leftovers, reminder_text

__all__ = [
    "MAX_SNOOZE",
    "ParsedWhen",
    "format_local",
    "localize",
    "next_occurrence",
    "parse_reminder",
    "parse_snooze",
]

#: The longest snooze; longer ones are new reminders.
MAX_SNOOZE = timedelta(days=366)
_SNOOZE_RANGE = "Snooze for between a minute and a year, for example 10m, 1h or 2 days."
_NO_TIME = "I can't tell when that is."


#: English time words: a phrase in another language's setting that has them is also tried
#: as English ("every monday at 9am" from a user whose language is German).
_ENGLISH = re.compile(
    r"\b(?:every|daily|weekly|monthly|tomorrow|today|tonight|next\s+week|at\s+\d"
    r"|in\s+\d+\s*(?:min|hour|day|week|month))|\d\s*(?:am|pm)\b",
    re.I,
)


class _NoTime(UsageError):
    """Nothing in the phrase reads as a time (another language's rules may find one)."""


def parse_reminder(
    spec: str, *, now: datetime, zone: str, max_years: int = 5, language: str = "en"
) -> ParsedWhen:
    """Split ``spec`` ("tomorrow at 9 to call Anna") into when and what, in ``zone``.

    ``language`` is the user's ISO 639-1 code; phrases in English are understood too.
    A phrase that is only a time ("tonight at 11") is read, with empty ``text``: asking
    for the text is the command's business, not the reader's.
    """
    spec = " ".join(spec.split())
    if not spec:
        raise UsageError("Tell me when and what, for example: /remind me in 10 minutes to stretch.")
    if duckling.available():
        parsed = _parse(spec, now, zone, max_years, language)
    else:
        parsed = fallback.parse(spec, now, zone, max_years)
    if parsed.due_at <= now:
        raise UsageError(_past(parsed, zone))
    if parsed.due_at > now + relativedelta(years=max_years):
        raise UsageError(too_far(max_years))
    return parsed


def _parse(spec: str, now: datetime, zone: str, max_years: int, language: str) -> ParsedWhen:
    """Read in the user's language; when it finds no time at all, try English."""
    table = language_for(language)
    try:
        return _read(Phrase(spec, table, now, zone, max_years))
    except UsageError as exc:
        if table.code == "en" or not (isinstance(exc, _NoTime) or _ENGLISH.search(spec)):
            raise _explained(exc, table.examples) from None
        try:  # people type English whatever their setting says
            return _read(Phrase(spec, language_for("en"), now, zone, max_years))
        except UsageError:
            raise _explained(exc, table.examples) from None


def _explained(error: UsageError, examples: str) -> UsageError:
    """A phrase with no time at all gets the forms that are understood."""
    if isinstance(error, _NoTime):
        return UsageError(f"{_NO_TIME} Accepted forms: {examples}.")
    return error


def _read(phrase: Phrase) -> ParsedWhen:
    impossible.check(phrase.canonical.text, day_first=phrase.language.day_first)
    impossible.check_vague(phrase.canonical.text)
    if is_recurring(phrase):
        return _repeating(phrase)
    try:
        reading = oneoff.read(phrase)
    except UsageError as exc:
        if str(exc) == _NO_TIME:
            raise _NoTime(_NO_TIME) from None
        raise
    spans = list(reading.spans)
    check_leftovers(phrase, spans)
    check_edges(phrase, spans)
    due = reading.due(phrase.zone)
    return ParsedWhen(
        reminder_text(phrase, spans), due, None, reading.zoned,
        assumption=reading.assumption, alternative=reading.alternative,
    )  # fmt: skip


def _repeating(phrase: Phrase) -> ParsedWhen:
    repeating = schedule.read(phrase)
    spans = list(repeating.spans)
    check_leftovers(phrase, spans)
    check_edges(phrase, spans)
    start = phrase.now.replace(second=0, microsecond=0)
    first = next_occurrence(schedule.anchor(repeating.rrule), phrase.zone, start, phrase.now)
    if first is None:
        raise UsageError("That repetition never happens.")
    alternative = None
    if repeating.alternative is not None:
        alt_rule = schedule.anchor(repeating.alternative)
        alternative = next_occurrence(alt_rule, phrase.zone, start, phrase.now)
    sub_daily = re.search(r"FREQ=(?:HOURLY|MINUTELY)", repeating.rrule) is not None
    return ParsedWhen(
        reminder_text(phrase, spans), first, repeating.rrule, not sub_daily,
        assumption=repeating.assumption, alternative=alternative,
        alternative_rrule=repeating.alternative,
    )  # fmt: skip


def _past(parsed: ParsedWhen, zone: str) -> str:
    """Already past; when the other reading of the phrase is not, say so."""
    message = already_past(parsed.due_at.astimezone(ZoneInfo(zone)), zone)
    if parsed.alternative is not None and parsed.alternative > parsed.due_at:
        other = parsed.alternative.astimezone(ZoneInfo(zone))
        message += f" Did you mean {other:%H:%M}? Say it with am/pm or as 24-hour time."
    return message


def parse_snooze(text: str) -> timedelta:
    """A snooze length such as ``10m``, ``1h``, ``2 days`` or ``in 90 minutes``."""
    cleaned = text.strip().lower().removeprefix("in ")
    delay = parse_duration(cleaned, longest=MAX_SNOOZE, refusal=_SNOOZE_RANGE)
    if delay is None:
        raise UsageError(f"I can't read {text.strip()!r} as a duration; try 10m, 1h or 2 days.")
    if delay <= timedelta(0):
        raise UsageError(_SNOOZE_RANGE)
    return delay


def format_local(moment: datetime, zone: str) -> str:
    """``Fri 4 Dec 2026, 15:30 (Europe/Berlin)``: the zone is named, so the time is unambiguous."""
    return format_wall(moment.astimezone(ZoneInfo(zone)), zone)
