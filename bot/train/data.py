"""Source/target pairs from JSONL, CSV or TSV files.

Users hand us files exported from spreadsheets and translation memories, so bad lines are
collected with their line numbers (one message lists them all) instead of failing on the
first one; a file with no usable pair at all is a :class:`DataError` in one line.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

#: How many malformed line numbers a message lists before "and N more".
_SHOWN = 10


class DataError(Exception):
    """A data file that cannot be used; the message is one line for the CLI."""


@dataclass(frozen=True)
class Pair:
    source: str
    target: str


@dataclass
class Dataset:
    pairs: list[Pair]
    #: (line number, reason) of every line that was skipped.
    malformed: list[tuple[int, str]] = field(default_factory=list)

    def malformed_summary(self) -> str:
        """One line naming the skipped lines, for a warning."""
        if not self.malformed:
            return ""
        shown = ", ".join(f"line {n}: {why}" for n, why in self.malformed[:_SHOWN])
        more = len(self.malformed) - _SHOWN
        return f"{len(self.malformed)} malformed line(s) skipped ({shown}" + (
            f", and {more} more)" if more > 0 else ")"
        )


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix == ".csv":
        return "csv"
    raise DataError(
        f"{path}: unknown data format {suffix or '(none)'!r} (use .jsonl, .csv or .tsv)"
    )


def _jsonl_pair(text: str) -> Pair | str:
    """A pair, or the reason the line is malformed."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"invalid JSON ({exc.args[0].split(':')[0]})"
    if not isinstance(value, dict):
        return "not a JSON object"
    source, target = value.get("source"), value.get("target")
    if not isinstance(source, str) or not isinstance(target, str):
        return 'needs string fields "source" and "target"'
    return _checked(source, target)


def _checked(source: str, target: str) -> Pair | str:
    source, target = source.strip(), target.strip()
    if not source or not target:
        return "empty source or target"
    return Pair(source, target)


def _read_jsonl(lines: list[str], data: Dataset) -> None:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = _jsonl_pair(line)
        if isinstance(result, str):
            data.malformed.append((number, result))
        else:
            data.pairs.append(result)


def _read_delimited(lines: list[str], delimiter: str, data: Dataset) -> None:
    """Two columns; a first row "source, target" is a header and skipped."""
    reader = csv.reader(lines, delimiter=delimiter)
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if number == 1 and [c.strip().lower() for c in row] == ["source", "target"]:
            continue
        if len(row) != 2:
            data.malformed.append((number, f"expected 2 columns, found {len(row)}"))
            continue
        result = _checked(row[0], row[1])
        if isinstance(result, str):
            data.malformed.append((number, result))
        else:
            data.pairs.append(result)


def read_pairs(path: Path) -> Dataset:
    """All usable pairs of a file; raises :class:`DataError` when there are none."""
    path = Path(path)
    kind = _format(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    data = Dataset(pairs=[])
    lines = text.splitlines(keepends=kind != "jsonl")
    if kind == "jsonl":
        _read_jsonl(lines, data)
    else:
        _read_delimited(lines, "\t" if kind == "tsv" else ",", data)
    if not data.pairs:
        reason = data.malformed_summary() or "the file is empty"
        raise DataError(f"{path}: no usable source/target pairs ({reason})")
    return data


def split_pairs(pairs: list[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): a seeded shuffle so the same seed holds out the same pairs."""
    if not 0 < fraction < 1:
        raise DataError(f"--val-split must be between 0 and 1, not {fraction}")
    order = list(pairs)
    random.Random(seed).shuffle(order)
    size = max(1, round(len(order) * fraction))
    if size >= len(order):
        raise DataError(f"too few pairs ({len(order)}) to hold out a validation split")
    return order[size:], order[:size]
