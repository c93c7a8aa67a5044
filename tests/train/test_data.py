"""Reading pairs: formats, malformed lines with their numbers, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.train.data import DataError, Pair, read_pairs, split_pairs
from bot.train.synthetic import main as synthetic_main
from bot.train.synthetic import make_pairs


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_reports_malformed_lines_by_number(tmp_path: Path) -> None:
    lines = [
        json.dumps({"source": "a", "target": "b"}),
        "{not json",
        "",
        json.dumps({"source": "c"}),
        json.dumps(["x", "y"]),
        json.dumps({"source": " ", "target": "d"}),
        json.dumps({"source": "e", "target": "f"}),
    ]
    data = read_pairs(write(tmp_path, "p.jsonl", "\n".join(lines)))
    assert data.pairs == [Pair("a", "b"), Pair("e", "f")]
    assert [n for n, _ in data.malformed] == [2, 4, 5, 6]
    summary = data.malformed_summary()
    assert "line 2: invalid JSON" in summary and "line 4:" in summary and "\n" not in summary


def test_csv_and_tsv_two_columns_with_header_and_quotes(tmp_path: Path) -> None:
    csv_file = write(tmp_path, "p.csv", 'source,target\n"a, b",c\nonly one\nd,e\n')
    data = read_pairs(csv_file)
    assert data.pairs == [Pair("a, b", "c"), Pair("d", "e")]
    assert data.malformed == [(3, "expected 2 columns, found 1")]
    tsv = read_pairs(write(tmp_path, "p.tsv", "x\ty\n\nz\tw\tv\n"))
    assert tsv.pairs == [Pair("x", "y")]
    assert tsv.malformed == [(3, "expected 2 columns, found 3")]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("e.jsonl", "", "the file is empty"),
        ("e.jsonl", "\n\n", "the file is empty"),
        ("bad.jsonl", "nope\n[1]\n", "2 malformed line(s) skipped (line 1: invalid JSON"),
        ("x.txt", "a\tb\n", "unknown data format '.txt'"),
    ],
)
def test_unusable_file_is_one_line_error(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    with pytest.raises(DataError) as caught:
        read_pairs(write(tmp_path, name, text))
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "gone.jsonl")


def test_split_is_seeded_and_disjoint() -> None:
    pairs = [Pair(str(i), str(i)) for i in range(50)]
    train, val = split_pairs(pairs, 0.2, seed=3)
    assert len(val) == 10 and len(train) == 40
    assert not set(train) & set(val)
    assert split_pairs(pairs, 0.2, seed=3) == (train, val)
    assert split_pairs(pairs, 0.2, seed=4) != (train, val)
    with pytest.raises(DataError):
        split_pairs(pairs[:1], 0.5, seed=0)


def test_synthetic_dates_are_seeded_iso(tmp_path: Path) -> None:
    pairs = make_pairs(200, seed=1)
    assert pairs == make_pairs(200, seed=1) != make_pairs(200, seed=2)
    assert all(len(p["target"]) == 10 and p["target"][4] == "-" for p in pairs)
    assert len({p["source"] for p in pairs}) > 150
    out = tmp_path / "d.jsonl"
    synthetic_main(["--out", str(out), "--n", "20", "--seed", "0"])
    assert len(read_pairs(out).pairs) == 20
