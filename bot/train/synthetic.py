"""A synthetic task with no download: dates in many spellings -> ISO 8601 (``2024-03-07``).

It is what the tutorial seqbot grew out of used to show attention at work: the model has to
find the day, the month and the year wherever a spelling puts them. Usage::

    python -m bot.train.synthetic --out dates.jsonl --n 20000 --seed 0
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
from datetime import date, timedelta
from pathlib import Path

_FIRST = date(1950, 1, 1)
_DAYS = (date(2049, 12, 31) - _FIRST).days

_ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}


def _ordinal(day: int) -> str:
    return f"{day}{_ORDINAL.get(day, 'th')}"


def _spellings(d: date) -> list[str]:
    """Ways people write one date; each is unambiguous for the task (day-first with dots)."""
    month = calendar.month_name[d.month]
    short = calendar.month_abbr[d.month]
    weekday = calendar.day_name[d.weekday()]
    return [
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
        f"{d.day}-{short}-{d.year % 100:02d}",
    ]


def make_pairs(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` pairs {"source", "target"}; the same seed gives the same list."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        d = _FIRST + timedelta(days=rng.randrange(_DAYS + 1))
        source = rng.choice(_spellings(d))
        pairs.append({"source": source, "target": d.isoformat()})
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--n", type=int, default=10000, help="number of pairs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    lines = (json.dumps(p, ensure_ascii=False) for p in make_pairs(args.n, args.seed))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.n} pairs to {args.out}")


if __name__ == "__main__":
    main()
