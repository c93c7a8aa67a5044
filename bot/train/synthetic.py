"""Synthetic tasks with no download, for checking that training works end to end.

``dates``: dates in many spellings -> ISO 8601 (``the 3rd of March 2019`` -> ``2019-03-03``).
It is what the tutorial seqbot grew out of used to show attention at work: the model has
to find the day, the month and the year wherever a spelling puts them.

``numbers``: English number words 0..999,999 -> digits (``two thousand and five`` ->
``2005``, ``four hundred and twelve thousand, seven`` -> ``412007``), with and without
"and", with hyphens or spaces, "a hundred", "twelve hundred".

Held-out data must be *truly* held out. A random split of generated pairs is not: the
same date (or number) comes out in several spellings, so a test pair's answer may sit in
the training file under another spelling and the model passes by remembering it. So the
split is by value, decided before spelling:

- dates by year, ``--years 1950-2019,2030-2049`` (ranges and single years): train on some
  years, test on years never seen. Unseen years make the model compose the ISO year from
  digits, which the trainer's digit-split tokenizer allows.
- numbers by ``--split train|val|test``: a hash of the value puts 1 in 10 numbers in
  ``test`` and another 1 in 10 in ``val`` (for picking checkpoints without seeing test).
  A hash and not ``value % 10``: a residue class would keep some digit out of some position
  (no training number would end in 7), which tests extrapolation, not held-out values.

Usage::

    python -m bot.train.synthetic --out dates.jsonl --n 20000 --seed 0 [--years 1950-2039]
    python -m bot.train.synthetic --task numbers --out test.jsonl --n 2000 --split test
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import product
from pathlib import Path
from typing import Literal

Split = Literal["train", "val", "test", "all"]

#: The default years; two-digit-year spellings (``3-Mar-19``) are used only inside them,
#: where ``yy`` names one year (00-49 -> 20yy, 50-99 -> 19yy).
DEFAULT_YEARS = range(1950, 2050)
_PIVOT = DEFAULT_YEARS

_ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}

#: Numbers task: largest value; 1 in ``_TEST_EVERY`` values (by hash) is test, 1 is val.
MAX_NUMBER = 999_999
_TEST_EVERY = 10
#: Values below this are always on the training side (see :func:`number_split`).
_ALWAYS_TRAIN = 100

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


class SpecError(ValueError):
    """A bad ``--years`` value; the message is one line for the user."""


# ---------------------------------------------------------------- dates


def parse_years(spec: str) -> tuple[int, ...]:
    """``"1950-2019,2030,2040-2049"`` -> the sorted distinct years it names."""
    years: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise SpecError(f"{part.strip()!r} is not a year or a range like 1950-2029") from None
        if low > high:
            raise SpecError(f"{part.strip()!r}: the range runs backwards")
        if low < 1 or high > 9999:
            raise SpecError(f"{part.strip()!r}: years must lie within 1-9999")
        years.update(range(low, high + 1))
    return tuple(sorted(years))


def format_years(years: Sequence[int]) -> str:
    """The inverse of :func:`parse_years`: ``[1950, 1951, 1953]`` -> ``"1950-1951,1953"``."""
    parts: list[str] = []
    ordered = sorted(set(years))
    start = prev = ordered[0]
    for year in [*ordered[1:], None]:
        if year is not None and year == prev + 1:
            prev = year
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if year is not None:
            start = prev = year
    return ",".join(parts)


def _ordinal(day: int) -> str:
    return f"{day}{_ORDINAL.get(day, 'th')}"


def _spellings(d: date) -> list[str]:
    """Ways people write one date; each is unambiguous for the task (day-first with dots)."""
    month = calendar.month_name[d.month]
    short = calendar.month_abbr[d.month]
    weekday = calendar.day_name[d.weekday()]
    ways = [
        f"{month} {d.day}, {d.year}",
        f"{short} {d.day} {d.year}",
        f"{d.day} {month} {d.year}",
        f"{d.day} {short.upper()} {d.year}",
        f"the {_ordinal(d.day)} of {month} {d.year}",
        f"{weekday}, {month} {_ordinal(d.day)} {d.year}",
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.month}/{d.day}/{d.year}",
        f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{month.lower()} {d.day} {d.year}",
    ]
    if d.year in _PIVOT:
        ways.append(f"{d.day}-{short}-{d.year % 100:02d}")
    return ways


def _day_picker(years: Sequence[int]) -> tuple[list[int], list[date], int]:
    """Cumulative day counts per year, first days, total: index -> date in those years.

    For consecutive years this maps index i to ``first + i days``, so the default years
    give the very pairs this module gave before years could be chosen.
    """
    starts, firsts, total = [], [], 0
    for year in sorted(set(years)):
        starts.append(total)
        firsts.append(date(year, 1, 1))
        total += 366 if calendar.isleap(year) else 365
    return starts, firsts, total


def make_pairs(n: int, seed: int, years: Sequence[int] | None = None) -> list[dict[str, str]]:
    """``n`` date pairs {"source", "target"} from ``years`` (default 1950-2049).

    Every date of those years is equally likely; the same seed and years give the same list.
    """
    starts, firsts, total = _day_picker(DEFAULT_YEARS if years is None else years)
    if total == 0:
        raise SpecError("no years to draw dates from")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        index = rng.randrange(total)
        slot = bisect.bisect_right(starts, index) - 1
        d = firsts[slot] + timedelta(days=index - starts[slot])
        pairs.append({"source": rng.choice(_spellings(d)), "target": d.isoformat()})
    return pairs


# ---------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumberStyle:
    """One way of writing numbers in words; :func:`number_spellings` tries them all."""

    #: British "and": "one hundred and five", "two thousand and five".
    use_and: bool = True
    #: "forty-two" rather than "forty two".
    hyphen: bool = True
    #: "a hundred", "a thousand" when the number starts with one of them.
    article: bool = False
    #: "twelve thousand, three hundred": a comma after "thousand".
    comma: bool = False
    #: "twelve hundred and fifty" for 1,100-9,999 when the hundreds digit is not 0.
    hundreds: bool = False


STYLES = tuple(NumberStyle(*flags) for flags in product((True, False), repeat=5))


def _below_hundred(n: int, style: NumberStyle) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return _TENS[tens]
    return _TENS[tens] + ("-" if style.hyphen else " ") + _ONES[ones]


def _below_thousand(n: int, style: NumberStyle, leading: bool) -> str:
    """1..999; ``leading``: the number starts here, so "a hundred" may stand for 100."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_hundred(rest, style)
    head = (
        "a hundred" if style.article and leading and hundreds == 1 else f"{_ONES[hundreds]} hundred"
    )
    if rest == 0:
        return head
    return head + (" and " if style.use_and else " ") + _below_hundred(rest, style)


def spell_number(value: int, style: NumberStyle) -> str:
    """``value`` (0..999,999) in words, written the way ``style`` says."""
    if not 0 <= value <= MAX_NUMBER:
        raise ValueError(f"{value} is outside 0..{MAX_NUMBER}")
    if value == 0:
        return "zero"
    thousands, rest = divmod(value, 1000)
    if style.hundreds and 1100 <= value <= 9999 and value // 100 % 10:
        head = _below_hundred(value // 100, style) + " hundred"
        tail = value % 100
        if tail == 0:
            return head
        return head + (" and " if style.use_and else " ") + _below_hundred(tail, style)
    if thousands == 0:
        return _below_thousand(rest, style, leading=True)
    if thousands == 1 and style.article:
        head = "a thousand"
    else:
        head = _below_thousand(thousands, style, leading=True) + " thousand"
    if rest == 0:
        return head
    if style.comma:
        return f"{head}, {_below_thousand(rest, style, leading=False)}"
    joint = " and " if style.use_and and rest < 100 else " "
    return head + joint + _below_thousand(rest, style, leading=False)


def number_spellings(value: int) -> list[str]:
    """The distinct ways of writing ``value`` over all styles, in a fixed order."""
    return sorted({spell_number(value, style) for style in STYLES})


def number_split(value: int) -> Literal["train", "val", "test"]:
    """Which side a number is on, by a hash of the value: 1 in 10 is test, 1 in 10 val.

    Values below 100 are always training data: each is a word or a pair of words
    ("zero", "seventeen", "forty-two") that no other number contains, so holding one out
    asks the model for a word it never saw, not for a composition of parts it knows.

    ``val`` numbers are held out too, for choosing the best checkpoint and drawing the
    learning curve without looking at ``test``.
    """
    if value < _ALWAYS_TRAIN:
        return "train"
    digest = hashlib.blake2b(str(value).encode(), digest_size=4).digest()
    bucket = int.from_bytes(digest, "big") % _TEST_EVERY
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def _draw_number(rng: random.Random) -> int:
    """As many 1- as 6-digit numbers; 3 in 10 rounded ("twelve thousand three hundred")."""
    digits = rng.randint(1, 6)
    value = rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)
    if digits > 1 and rng.random() < 0.3:
        scale = 10 ** rng.randint(1, digits - 1)
        value = value // scale * scale or value
    return value


def make_number_pairs(n: int, seed: int, split: Split = "all") -> list[dict[str, str]]:
    """``n`` number pairs {"source", "target"} from one side of the split (or from all)."""
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        value = _draw_number(rng)
        if split != "all" and number_split(value) != split:
            continue
        pairs.append({"source": rng.choice(number_spellings(value)), "target": str(value)})
    return pairs


# ---------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--n", type=int, default=10000, help="number of pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", choices=("dates", "numbers"), default="dates")
    parser.add_argument(
        "--years", help="dates: years to draw from, e.g. 1950-2019,2030-2049 (default 1950-2049)"
    )
    parser.add_argument(
        "--split",
        choices=("train", "val", "test", "all"),
        help="numbers: side of the held-out split",
    )
    return parser


def _pairs(args: argparse.Namespace) -> list[dict[str, str]]:
    """The pairs the arguments ask for; :class:`SpecError` for a bad combination."""
    if args.n < 1:
        raise SpecError("--n must be at least 1")
    if args.task == "numbers":
        if args.years is not None:
            raise SpecError("--years is for --task dates; numbers are split with --split")
        return make_number_pairs(args.n, args.seed, args.split or "all")
    if args.split is not None:
        raise SpecError("--split is for --task numbers; dates are split with --years")
    if args.years is None:
        return make_pairs(args.n, args.seed)
    try:
        years = parse_years(args.years)
    except SpecError as exc:
        raise SpecError(f"--years: {exc}") from None
    return make_pairs(args.n, args.seed, years)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        pairs = _pairs(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    lines = (json.dumps(p, ensure_ascii=False) for p in pairs)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(pairs)} pairs to {args.out}")


if __name__ == "__main__":
    main()
