"""Scoring reminder parsers on the phrase corpora in ``tests/reminders/<set>/<lang>.tsv``.

Three sets: ``corpus/`` (the tuning set), ``holdout/`` and ``holdout2/`` (written
independently and scored blind, to measure what the tuning did not see).

Shared by ``test_corpus.py`` (our parser, with pass marks) and
``benchmarks/reminder_parsing.py`` (our parser beside other libraries). The format and
the conventions the expectations follow are in docs/reminders.md ("Corpora").

Each line is scored as understood (same time, or the same first three occurrences,
and the same text), misread (anything else returned: the silent failure that matters
most) or refused. A line whose expectation is ``refuse`` is understood when refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CORPUS = Path(__file__).parent / "corpus"
HOLDOUT = Path(__file__).parent / "holdout"
HOLDOUT2 = Path(__file__).parent / "holdout2"
HOLDOUT3 = Path(__file__).parent / "holdout3"
#: The phrase sets by name: the tuning set and three independently written hold-outs
#: (holdout3 was scored blind after the last parser change: see docs/reminders.md).
SETS = {"corpus": CORPUS, "holdout": HOLDOUT, "holdout2": HOLDOUT2, "holdout3": HOLDOUT3}
LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
ZONE = "Europe/Berlin"
#: Wednesday 2026-11-25 14:00 in Berlin: "now" for every line.
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=ZoneInfo(ZONE))


@dataclass(frozen=True)
class Line:
    language: str
    number: int
    phrase: str
    #: "refuse", one local time ("2026-11-26T09:00") or "every" and three of them
    expected: str
    text: str


@dataclass(frozen=True)
class Answer:
    """What a parser made of a phrase: local times (one, or the first three) and the text."""

    times: tuple[str, ...]
    text: str
    recurring: bool = False

    def expected(self) -> str:
        return ("every " if self.recurring else "") + " ".join(self.times)


#: A parser under test: (phrase, language) → Answer, or None when it refuses.
Parser = Callable[[str, str], "Answer | None"]


@dataclass
class Score:
    language: str
    #: which set the lines came from ("corpus", "holdout", "holdout2")
    set: str = "corpus"
    understood: int = 0
    misread: int = 0
    refused: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.understood + self.misread + self.refused

    def share(self, count: int) -> float:
        return 100.0 * count / self.total if self.total else 0.0

    @property
    def ms_per_phrase(self) -> float:
        return 1000.0 * self.seconds / self.total if self.total else 0.0


def available(directory: Path = CORPUS) -> list[str]:
    """The languages with a ``<lang>.tsv`` in ``directory`` (a value of :data:`SETS`)."""
    return [code for code in LANGUAGES if (directory / f"{code}.tsv").is_file()]


def load(language: str, directory: Path = CORPUS) -> list[Line]:
    lines = []
    path = directory / f"{language}.tsv"
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        columns = raw.split("\t")
        if len(columns) != 3:
            raise ValueError(f"{path.name}:{number}: expected 3 tab-separated columns")
        phrase, expected, text = (c.strip() for c in columns)
        lines.append(Line(language, number, phrase, " ".join(expected.split()), text))
    return lines


def score(language: str, lines: list[Line], parser: Parser, set_name: str = "corpus") -> Score:
    result = Score(language, set_name)
    for line in lines:
        started = time.perf_counter()
        try:
            answer = parser(line.phrase, language)
        except Exception as exc:  # a crash is a refusal, and listed
            answer = None
            result.failures.append(f"{line.number}: {line.phrase!r} crashed: {exc!r}")
        result.seconds += time.perf_counter() - started
        _count(result, line, answer)
    return result


def _count(result: Score, line: Line, answer: Answer | None) -> None:
    where = f"{result.set}/{line.language}:{line.number}"
    if line.expected == "refuse":
        if answer is None:
            result.understood += 1
        else:
            result.misread += 1
            result.failures.append(f"MISREAD {where} {line.phrase!r}: refuse ≠ {answer.expected()}")
        return
    if answer is None:
        result.refused += 1
        result.failures.append(f"REFUSED {where} {line.phrase!r} (expected {line.expected})")
    elif answer.expected() == line.expected and answer.text == line.text:
        result.understood += 1
    else:
        result.misread += 1
        result.failures.append(
            f"MISREAD {where} {line.phrase!r}: {line.expected} {line.text!r} "
            f"≠ {answer.expected()} {answer.text!r}"
        )


def table(scores: list[Score]) -> str:
    rows = [
        f"{'set':9}{'lang':6}{'lines':>7}{'understood':>12}{'misread':>9}{'refused':>9}"
        f"{'ms/phrase':>11}"
    ]
    for s in scores:
        rows.append(
            f"{s.set:9}{s.language:6}{s.total:>7}{s.share(s.understood):>11.1f}%{s.share(s.misread):>8.1f}%"
            f"{s.share(s.refused):>8.1f}%{s.ms_per_phrase:>11.2f}"
        )
    return "\n".join(rows)


def local_minutes(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def read_at_reference(phrase: str, language: str = "en") -> tuple[str, str]:
    """(local time, text) of a one-off ``phrase`` said at the corpus reference moment."""
    from tasks.reminders.parsing import parse_reminder

    parsed = parse_reminder(phrase, now=NOW, zone=ZONE, language=language)
    return local_minutes(parsed.due_at), parsed.text


def seqbot_parser(phrase: str, language: str) -> Answer | None:
    """Our :func:`parse_reminder`, refusals being UsageError."""
    from bot.errors import UsageError
    from tasks.reminders.parsing import next_occurrence, parse_reminder

    try:
        parsed = parse_reminder(phrase, now=NOW, zone=ZONE, language=language)
    except UsageError:
        return None
    if parsed.rrule is None:
        return Answer((local_minutes(parsed.due_at),), parsed.text)
    occurrences = [parsed.due_at]
    while len(occurrences) < 3:
        following = next_occurrence(parsed.rrule, ZONE, occurrences[-1], occurrences[-1])
        if following is None:
            break
        occurrences.append(following)
    return Answer(tuple(local_minutes(o) for o in occurrences), parsed.text, recurring=True)
