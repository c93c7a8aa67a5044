"""One phrase being parsed: the user's text, its rewritten forms, the clock and the zone.

Three views of the same text travel together. ``original`` is what the user typed (the
reminder text is cut from it); ``normalized`` is what Duckling reads; ``canonical`` is
what the language-independent grammars read. Positions in the rewritten views map back
to the original, so whatever a grammar recognises can be removed from the user's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from tasks.reminders.when import zones
from tasks.reminders.when.languages import Language
from tasks.reminders.when.rewrite import Rewritten, rules

Span = tuple[int, int]

#: Rewrites every language shares: a clock time with a zone is 24-hour time ("9:00 CET"
#: is written "09:00 CET", and a leading zero makes 24-hour time, see .readings), and
#: dotted numeric dates with a year become ISO dates.
COMMON = rules(
    (r"[０-９：（）]", lambda m: chr(ord(m[0]) - 0xFEE0)),  # full-width, as typed in CJK
    (r"(?<![\d/])(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?![\d/])",
     lambda m: f"{m['y']}-{int(m['m']):02d}-{int(m['d']):02d}"),
    (rf"(?<![\w:.])(?P<h>\d{{1,2}}):(?P<m>[0-5]\d)(?=\s*\(?{zones.ZONE})",
     lambda m: f"{int(m['h']):02d}:{m['m']}"),
    (r"(?<![\w.])(?P<d>[0-3]?\d)\.(?P<m>[01]?\d)\.(?P<y>\d{4})(?![\w.])",
     lambda m: f"{m['y']}-{int(m['m']):02d}-{int(m['d']):02d}"),
)  # fmt: skip


#: In day-first languages a bare "14.03" is the 14th of March, not 14:03: said without a
#: word for "at" before it ("в 14.30", "um 14.30", "à 14.30", "a las 14.30") and without an
#: hour word after it. Rewritten as the next such ISO date, which is read exactly.
_DAY_MONTH = re.compile(
    r"(?<![\w.:,/+-])(?<!\bв\s)(?<!\bво\s)(?<!\bк\s)(?<!\bum\s)(?<!\bab\s)(?<!\bà\s)(?<!\ba\s)"
    r"(?<!\bat\s)(?<!\bvers\s)(?<!\blas\s)(?<!\bgegen\s)(?<!@)"
    r"(?P<d>0?[1-9]|[12]\d|3[01])\.(?P<m>0[1-9]|1[0-2])(?![\w.:,/]|\s*(?:uhr|h\b|час|ч\b|утра"
    r"|вечера|дня|ночи|点))",
    re.I,
)  # fmt: skip


def _day_month(today: date) -> Callable[[re.Match[str]], str]:
    def iso(match: re.Match[str]) -> str:
        for year in (today.year, today.year + 1):
            try:
                day = date(year, int(match["m"]), int(match["d"]))
            except ValueError:
                return match[0]  # "31.04": refused as impossible later
            if day > today:
                return day.isoformat()
        return match[0]

    return iso


def local(moment: datetime, zone: str) -> datetime:
    """An aware instant as naive wall-clock time in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@dataclass(frozen=True)
class Phrase:
    """The text after ``/remind``, said at ``now`` by someone in ``zone``."""

    original: str
    language: Language
    now: datetime
    zone: str
    max_years: int = 5
    #: Whether ``zone`` is one the phrase named ("9:00 PST"), not the user's.
    named_zone: bool = False

    @cached_property
    def normalized(self) -> Rewritten:
        rewritten = Rewritten.of(self.original).apply(self.language.normalize + COMMON)
        if self.language.day_first:
            rewritten = rewritten.apply([(_DAY_MONTH, _day_month(self.local_now.date()))])
        return rewritten

    @cached_property
    def canonical(self) -> Rewritten:
        return self.normalized.apply(self.language.canonical)

    @cached_property
    def local_now(self) -> datetime:
        return local(self.now, self.zone)

    def duckling_span(self, start: int, end: int) -> Span:
        """The original span of ``normalized.text[start:end]``."""
        return self.normalized.original_span(start, end)

    def canonical_span(self, start: int, end: int) -> Span:
        return self.canonical.original_span(start, end)

    def canonical_in(self, span: Span, *, outside: bool = False) -> str:
        """The canonical text of the original ``span`` (or of all but it), gaps as spaces."""
        start, end = span
        chars = []
        for char, (s, e) in zip(self.canonical.text, self.canonical.spans, strict=True):
            inside = s >= start and e <= end
            chars.append(char if inside != outside else " ")
        return re.sub(r"\s+", " ", "".join(chars)).strip()

    def canonical_outside(self, spans: list[Span]) -> str:
        """The canonical text of everything not in ``spans``, one space per gap."""
        chars = []
        for char, (s, e) in zip(self.canonical.text, self.canonical.spans, strict=True):
            used = any(s >= a and e <= b for a, b in spans)
            chars.append(" \u2502 " if used else char)
        return re.sub(r"(?:\s*\u2502\s*)+", " | ", "".join(chars)).strip(" |")
