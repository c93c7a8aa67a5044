"""A repeating reminder end to end: the rule, its time of day, its first occurrence.

:mod:`.recurrence` reads the rule's words; the rest of the phrase goes to Duckling
for the time of day (and, for yearly rules, the date), with the recurrence words
blanked out so Duckling does not read "every monday" as next Monday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from bot.errors import UsageError
from bot.reminders.occurrence import localize
from tasks._numbers import check_span
from tasks.reminders.when import recurrence, zones
from tasks.reminders.when.bounds import horizon
from tasks.reminders.when.duckling import Entity
from tasks.reminders.when.oneoff import blanked, time_entities
from tasks.reminders.when.phrase import Phrase, Span, local
from tasks.reminders.when.readings import DEFAULT_HOUR, literal_hour
from tasks.reminders.when.recurrence import POD_HOURS, WEEKDAY_CODES, Rule


@dataclass(frozen=True)
class Repeating:
    """A recurrence read from a phrase, with the spans of the phrase it explains."""

    rrule: str
    spans: tuple[Span, ...]
    #: The rule with the other half of the day ("at 7": 19:00), when the clock could be either.
    alternative: str | None = None
    assumption: str | None = None


def read(phrase: Phrase) -> Repeating:
    """The RRULE ``phrase`` describes, or UsageError."""
    rule = recurrence.read_rule(phrase)
    check_interval(rule, phrase)
    clock, other, spans = _time_of_day(rule, phrase)
    if rule.sub_daily:
        if clock is not None:
            raise UsageError(
                f"Every {rule.interval} {recurrence.interval_unit(rule)} starts now; "
                "leave out the time of day, or repeat daily at it."
            )
        return Repeating(rule.rrule(None), tuple(rule.spans))
    if clock is None:
        clock = time(POD_HOURS.get(rule.pod or "", DEFAULT_HOUR))
    assumption = None
    if other is not None:
        assumption = (
            f"{clock:%H:%M} could also be {other:%H:%M}; I picked {clock:%H:%M} as written."
        )
    return Repeating(
        rule.rrule(clock),
        tuple(rule.spans + spans),
        alternative=rule.rrule(other) if other else None,
        assumption=assumption,
    )


def anchor(rrule: str) -> str:
    """The rule without its interval for day-level rules: "every other wednesday" starts on
    the coming Wednesday, not in the week after next."""
    if "FREQ=MINUTELY" in rrule or "FREQ=HOURLY" in rrule:
        return rrule
    return ";".join(p for p in rrule.split(";") if not p.startswith("INTERVAL="))


def check_interval(rule: Rule, phrase: Phrase) -> None:
    """Refuse "every 0 days", more often than every 5 minutes, and beyond the horizon."""
    unit = recurrence.interval_unit(rule)
    if unit == "minutes" and rule.interval < 5:
        raise UsageError("The most often I can repeat is every 5 minutes.")
    if rule.interval < 1:
        raise UsageError(f"Repeat every 1 {unit[:-1]} or more; every 0 {unit} never comes round.")
    max_years = phrase.max_years
    too_rare = f"Repeat at most every {max_years} years; I keep reminders only that far ahead."
    check_span([(rule.interval, unit)], horizon(max_years), too_rare)
    now = phrase.now
    if now + relativedelta(**{unit: rule.interval}) > now + relativedelta(years=max_years):
        raise UsageError(too_rare)


def _time_of_day(rule: Rule, phrase: Phrase) -> tuple[time | None, time | None, list[Span]]:
    """The clock time in what is left of the phrase, and the spans it came from.

    A zone named with it ("每天北京时间早上9点") is read there and converted to the user's
    zone as of today.
    """
    try:
        mention = zones.find(phrase.normalized.text)
    except LookupError:
        raise UsageError("I don't know that time zone; name it like Europe/London.") from None
    spans: list[Span] = []
    where = phrase
    if mention is not None:
        spans.append(phrase.duckling_span(mention.start, mention.end))
        where = replace(phrase, zone=mention.zone, named_zone=True)
    rest = blanked(phrase, rule.spans + spans)
    entities = time_entities(where, rest)
    plain = [e for e in entities if "namedholiday" not in _words(phrase, e)]
    clock: tuple[time, time | None] | None = None
    parts: list[Span] = []  # parts of the day, kept apart until the clock time is known
    for entity in plain if plain else entities:  # "圣诞礼物" is text beside a date
        span = phrase.duckling_span(entity.start, entity.end)
        (parts if entity.is_interval else spans).append(span)
        pod = rule.pod
        read = _entity_part(rule, entity, _words(phrase, entity), phrase)
        if read is not None:
            if clock is not None:
                raise UsageError("Give one time of day for a repetition.")
            clock = read
        elif entity.is_interval and clock is not None and clock[1] is None:
            rule.pod = pod  # "at 9:15pm take the evening meds": the half is said already
    if clock is None or clock[1] is not None:
        spans += parts
    else:  # a part of the day beside a clock time with its half is text unless it touches it
        spans += [p for p in parts if any(_touching(phrase.original, p, s) for s in spans)]
    if clock is None:
        return None, None, spans
    if mention is not None:
        return _converted(clock[0], phrase, mention.zone), None, spans
    return clock[0], clock[1], spans


def _touching(text: str, first: Span, second: Span) -> bool:
    """Whether two spans are apart by short words only ("at 8 in the evening")."""
    start, end = (first[1], second[0]) if first[1] <= second[0] else (second[1], first[0])
    return start >= end or re.search(r"\w{4,}", text[start:end]) is None


def _words(phrase: Phrase, entity: Entity) -> str:
    return phrase.canonical_in(phrase.duckling_span(entity.start, entity.end)).lower()


def _entity_part(
    rule: Rule, entity: Entity, canonical: str, phrase: Phrase
) -> tuple[time, time | None] | None:
    """What one Duckling entity adds to the rule: a part of the day, a date, a clock time."""
    if entity.is_interval:
        part = recurrence._PARTS.search(canonical)
        if part is None:
            raise UsageError("I can't read that repetition.")
        rule.pod = rule.pod or part["pod"]
        return None
    if entity.grain == "day":
        _date_part(rule, entity.walls()[0], canonical, dated=True)
        return None
    if entity.grain not in ("hour", "minute"):
        raise UsageError("I can't read that repetition.")
    values = entity.walls()
    dated = re.search(r"\d{1,2}[./]\d{1,2}|\d{1,2}(?:st|nd|rd|th)\b|月", canonical) is not None
    _date_part(rule, values[0], canonical, dated=dated)
    span = phrase.duckling_span(entity.start, entity.end)
    literal = literal_hour(phrase.normalized.text[entity.start : entity.end],
                           phrase.original[span[0] : span[1]])  # fmt: skip
    if literal is not None:  # "every day at 09:00": 24-hour time
        return time(literal, values[0].minute), None
    return recurrence.first_reading(
        values, rule.pod or _pod(canonical), midnight="midnight" in canonical
    )


def _converted(clock: time, phrase: Phrase, zone: str) -> time:
    """A clock time in ``zone`` as the user's clock time, as of tomorrow."""
    day = local(phrase.now, zone).date() + timedelta(days=1)
    return local(localize(datetime.combine(day, clock), zone), phrase.zone).time()


def _pod(canonical: str) -> str | None:
    found = recurrence._PARTS.search(canonical)
    return found["pod"] if found else None


def _date_part(rule: Rule, value: datetime, canonical: str, *, dated: bool = False) -> None:
    """Take a day Duckling read ("on march 3", "on friday") into the rule where it fits."""
    names_month = re.search(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", canonical)
    names_weekday = re.search(r"\b(?:mon|tue|wed|thu|fri|sat|sun)", canonical)
    if rule.freq == "YEARLY" and (names_month or dated) and rule.bymonth is None:
        rule.bymonth, rule.bymonthday = value.month, value.day
    elif rule.freq == "MONTHLY" and dated and not (rule.bymonthday or rule.byday):
        rule.bymonthday = value.day
    elif rule.freq == "WEEKLY" and names_weekday and not rule.byday:
        rule.byday = [WEEKDAY_CODES[value.weekday()]]
    elif dated or names_month or names_weekday:
        raise UsageError("I can't read that repetition.")
