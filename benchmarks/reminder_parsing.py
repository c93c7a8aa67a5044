"""Reminder-phrase parsers compared on seqbot's corpora (tests/reminders/{corpus,holdout}/<lang>.tsv).

Every candidate reads every line at the corpus reference time (Wednesday 2026-11-25
14:00, Europe/Berlin) and is scored as in tests/reminders/test_corpus.py: understood
(same time or first three occurrences, and same text), misread (anything else returned)
or refused; "time ok" ignores the text. Candidates:

- ``seqbot``: :func:`tasks.reminders.parsing.parse_reminder`;
- ``duckling``: the first time entity Duckling finds, with our defaults applied minimally
  (a date means 09:00, an interval its start), the rest of the phrase as the text;
- ``dateparser``: ``search_dates`` with ``RELATIVE_BASE`` and ``PREFER_DATES_FROM=future``;
- ``parsedatetime``: ``Calendar().nlp`` (English only);
- ``ctparse``: ``ctparse(..., ts=now)`` (English only; a date without a time means 09:00);
- ``recurrent``: ``RecurringEvent.parse`` for the lines that repeat (English only).

The other libraries are optional (the ``bench`` extra); missing ones are skipped.

    .venv/bin/python benchmarks/reminder_parsing.py [--languages en,de] [--sets corpus,holdout]
        [--candidates ...]

Prints a table and writes benchmarks/results/reminder_parsing.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.reminders.when.languages import language_for  # noqa: E402
from tests.reminders import corpus_score as cs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "reminder_parsing.json"
LOCAL_NOW = cs.NOW.replace(tzinfo=None)
Parser = Callable[[str, str], "cs.Answer | None"]


def _text(phrase: str, start: int, end: int, language: str) -> str:
    """The phrase without the time, cleaned with our own filler words (fair to everyone)."""
    table = language_for(language)
    pieces = [phrase[:start], phrase[end:]]
    cleaned = []
    for piece in pieces:
        piece = piece.strip()
        for _ in range(4):
            piece = table.trail.sub("", table.lead.sub("", piece, count=1).strip()).strip()
        cleaned.append(piece)
    return (" " if table.spaced else "").join(p for p in cleaned if p)


def _once(moment: datetime, text: str) -> cs.Answer:
    return cs.Answer((moment.strftime("%Y-%m-%dT%H:%M"),), text)


def duckling_parser() -> Parser | None:
    from tasks.reminders.when import duckling

    if not duckling.available():
        return None

    def parse(phrase: str, language: str) -> cs.Answer | None:
        found = [e for e in duckling.entities(phrase, language, cs.NOW, cs.ZONE)
                 if e.dim == "time" and not e.latent]  # fmt: skip
        if not found:
            return None
        entity = found[0]
        moment = entity.bound("from") if entity.is_interval else entity.first
        if moment is None:
            return None
        if entity.grain in ("day", "week", "month", "quarter", "year"):
            moment = moment.replace(hour=9, minute=0)
        return _once(moment, _text(phrase, entity.start, entity.end, language))

    return parse


def dateparser_parser() -> Parser | None:
    try:
        from dateparser.search import search_dates
    except ImportError:
        return None
    settings = {"RELATIVE_BASE": LOCAL_NOW, "PREFER_DATES_FROM": "future",
                "RETURN_AS_TIMEZONE_AWARE": False}  # fmt: skip

    def parse(phrase: str, language: str) -> cs.Answer | None:
        found = search_dates(phrase, languages=[language], settings=settings)
        if not found:
            return None
        said, moment = found[0]
        start = phrase.find(said)
        return _once(moment, _text(phrase, start, start + len(said), language))

    return parse


def parsedatetime_parser() -> Parser | None:
    try:
        import parsedatetime
    except ImportError:
        return None
    calendar = parsedatetime.Calendar()

    def parse(phrase: str, language: str) -> cs.Answer | None:
        if language != "en":
            return None
        found = calendar.nlp(phrase, sourceTime=LOCAL_NOW)
        if not found:
            return None
        moment, _, start, end, _ = found[0]
        return _once(moment, _text(phrase, start, end, language))

    return parse


def ctparse_parser() -> Parser | None:
    try:
        from ctparse import ctparse
        from ctparse.types import Time
    except ImportError:
        return None
    logging.getLogger("ctparse").setLevel(logging.ERROR)  # one warning per unread phrase

    def parse(phrase: str, language: str) -> cs.Answer | None:
        if language != "en":
            return None
        found = ctparse(phrase, ts=LOCAL_NOW, timeout=1)
        resolution = found.resolution if found else None
        if not isinstance(resolution, Time) or resolution.year is None:
            return None
        moment = datetime(resolution.year, resolution.month or 1, resolution.day or 1,
                          resolution.hour if resolution.hour is not None else 9,
                          resolution.minute or 0)  # fmt: skip
        return _once(moment, _text(phrase, resolution.mstart, resolution.mend, language))

    return parse


def recurrent_parser() -> Parser | None:
    try:
        from dateutil.rrule import rrulestr
        from recurrent.event_parser import RecurringEvent
    except ImportError:
        return None

    def parse(phrase: str, language: str) -> cs.Answer | None:
        if language != "en":
            return None
        found = RecurringEvent(now_date=LOCAL_NOW).parse(phrase)
        if isinstance(found, datetime):
            return _once(found, "")
        if not isinstance(found, str):
            return None
        rule = rrulestr(found.removeprefix("RRULE:"), dtstart=LOCAL_NOW.replace(second=0))
        times = []
        moment = LOCAL_NOW
        while len(times) < 3 and (moment := rule.after(moment)) is not None:
            times.append(moment.strftime("%Y-%m-%dT%H:%M"))
        return cs.Answer(tuple(times), "", recurring=True)

    return parse


CANDIDATES: dict[str, Callable[[], Parser | None]] = {
    "seqbot": lambda: cs.seqbot_parser,
    "duckling": duckling_parser,
    "dateparser": dateparser_parser,
    "parsedatetime": parsedatetime_parser,
    "ctparse": ctparse_parser,
    "recurrent": recurrent_parser,
}
ENGLISH_ONLY = {"parsedatetime", "ctparse", "recurrent"}


def run(candidates: list[str], languages: list[str], sets: list[str]) -> dict[str, Any]:
    """Scores by candidate, set ("corpus", "holdout") and language."""
    results: dict[str, Any] = {}
    for name in candidates:
        parser = CANDIDATES[name]()
        if parser is None:
            print(f"{name}: not installed, skipped")
            continue
        for set_name in sets:
            directory = cs.SETS[set_name]
            for language in languages:
                if name in ENGLISH_ONLY and language != "en":
                    continue
                if language not in cs.available(directory):
                    continue
                lines = cs.load(language, directory)
                if name == "recurrent":
                    lines = [line for line in lines if line.expected.startswith("every")]
                parser(lines[0].phrase, language)  # load models, caches and zone data first
                scored = cs.score(language, lines, parser, set_name)
                timing = cs.score(language, lines, _time_only(parser, lines), set_name)
                per_set = results.setdefault(name, {}).setdefault(set_name, {})
                per_set[language] = _summary(scored, timing)
    return results


def _time_only(parser: Parser, lines: list[cs.Line]) -> Parser:
    """The parser with the expected text put in: scores the time alone."""
    texts = {line.phrase: line.text for line in lines}

    def parse(phrase: str, language: str) -> cs.Answer | None:
        answer = parser(phrase, language)
        if answer is None:
            return None
        return cs.Answer(answer.times, texts[phrase], answer.recurring)

    return parse


def _summary(scored: cs.Score, timing: cs.Score) -> dict[str, float]:
    return {
        "lines": scored.total,
        "understood": round(scored.share(scored.understood), 1),
        "misread": round(scored.share(scored.misread), 1),
        "refused": round(scored.share(scored.refused), 1),
        "time_ok": round(timing.share(timing.understood), 1),
        "ms_per_phrase": round(scored.ms_per_phrase, 2),
    }


def table(results: dict[str, Any]) -> str:
    header = (f"{'candidate':14}{'set':9}{'lang':6}{'lines':>6}{'understood':>12}{'time ok':>9}"
              f"{'misread':>9}{'refused':>9}{'ms/phrase':>11}")  # fmt: skip
    rows = [header]
    for name, per_set in results.items():
        for set_name, per_language in per_set.items():
            for language, s in per_language.items():
                rows.append(
                    f"{name:14}{set_name:9}{language:6}{s['lines']:>6}{s['understood']:>11.1f}%"
                    f"{s['time_ok']:>8.1f}%{s['misread']:>8.1f}%{s['refused']:>8.1f}%"
                    f"{s['ms_per_phrase']:>11.2f}"
                )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default=",".join(cs.available()))
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--sets", default=",".join(cs.SETS))
    args = parser.parse_args()
    languages = [code for code in args.languages.split(",") if code in cs.LANGUAGES]
    candidates = [name for name in args.candidates.split(",") if name in CANDIDATES]
    sets = [name for name in args.sets.split(",") if name in cs.SETS]
    results = run(candidates, languages, sets)
    print(table(results))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "reference": cs.NOW.isoformat(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
