"""The synthetic tasks: same seed same data, held-out splits that really hold out."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bot.train import synthetic
from bot.train.synthetic import (
    SpecError,
    format_years,
    make_number_pairs,
    make_pairs,
    number_spellings,
    number_split,
    parse_years,
)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.train.synthetic", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def years_of(pairs: list[dict[str, str]]) -> set[int]:
    return {int(p["target"].split("-")[0]) for p in pairs}


# ---------------------------------------------------------------- determinism


def test_same_seed_same_lines(tmp_path: Path) -> None:
    for task in ("dates", "numbers"):
        a, b, c = (tmp_path / f"{task}-{name}.jsonl" for name in "abc")
        for out, seed in ((a, "3"), (b, "3"), (c, "4")):
            assert (
                run_cli("--task", task, "--out", str(out), "--n", "300", "--seed", seed).returncode
                == 0
            )
        assert a.read_text() == b.read_text()
        assert a.read_text() != c.read_text()
        assert len(a.read_text().splitlines()) == 300


def test_default_dates_unchanged() -> None:
    """Choosing years must not change the pairs of the default range (older runs' data)."""
    first = make_pairs(4, seed=0)
    assert first == [
        {"source": "15.02.2019", "target": "2019-02-15"},
        {"source": "the 7th of April 1957", "target": "1957-04-07"},
        {"source": "9/26/2041", "target": "2041-09-26"},
        {"source": "the 28th of August 2022", "target": "2022-08-28"},
    ]
    assert make_pairs(200, seed=5, years=range(1950, 2050)) == make_pairs(200, seed=5)


# ---------------------------------------------------------------- dates by year


def test_parse_and_format_years() -> None:
    assert parse_years("1950-1952, 1957,2040-2041") == (1950, 1951, 1952, 1957, 2040, 2041)
    assert parse_years("2000-2001,2001") == (2000, 2001)
    assert format_years([2041, 1950, 1951, 1952, 1957, 2040]) == "1950-1952,1957,2040-2041"


@pytest.mark.parametrize("spec", ["1950-2019,2030-2049", "1987", "1900-1905,2100-2101"])
def test_years_respected(spec: str) -> None:
    allowed = set(parse_years(spec))
    pairs = make_pairs(2000, seed=1, years=allowed)
    assert years_of(pairs) <= allowed
    if len(allowed) < 20:
        assert years_of(pairs) == allowed


def test_year_split_is_disjoint(tmp_path: Path) -> None:
    """No held-out date (in any spelling) is in the training file: the years differ."""
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert (
        run_cli("--out", str(train), "--n", "3000", "--years", "1950-2019,2030-2049").returncode
        == 0
    )
    assert (
        run_cli("--out", str(test), "--n", "500", "--years", "2020-2029", "--seed", "1").returncode
        == 0
    )
    train_pairs = [json.loads(line) for line in train.read_text().splitlines()]
    test_pairs = [json.loads(line) for line in test.read_text().splitlines()]
    assert years_of(test_pairs) == set(range(2020, 2030))
    assert not years_of(train_pairs) & years_of(test_pairs)
    assert not {p["target"] for p in train_pairs} & {p["target"] for p in test_pairs}


def test_two_digit_years_only_where_unambiguous() -> None:
    """``3-Mar-05`` would be 1905 or 2005 outside 1950-2049, so it is not used there."""
    for pair in make_pairs(3000, seed=2, years=range(1900, 1950)):
        assert pair["source"].count("-") == 0, pair


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1950-", "is not a year or a range"),
        ("nineteen", "is not a year or a range"),
        ("2049-1950", "runs backwards"),
        ("0-10", "within 1-9999"),
    ],
)
def test_bad_years_one_line_error(spec: str, expected: str, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = run_cli("--out", str(out), "--years", spec)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --years: "), result.stderr
    assert expected in lines[0]
    assert not out.exists()


def test_parse_years_raises_spec_error() -> None:
    with pytest.raises(SpecError):
        parse_years("1950-19x0")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "numbers", "--years", "1950-1960"], "--years is for --task dates"),
        (["--split", "test"], "--split is for --task numbers"),
        (["--n", "0"], "--n must be at least 1"),
    ],
)
def test_option_mixups_one_line_error(args: list[str], expected: str, tmp_path: Path) -> None:
    result = run_cli("--out", str(tmp_path / "x.jsonl"), *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), result.stderr


# ---------------------------------------------------------------- numbers


#: Spellings checked by hand, with the digits they mean.
HAND_CHECKED = [
    ("zero", 0),
    ("seven", 7),
    ("nineteen", 19),
    ("forty-two", 42),
    ("forty two", 42),
    ("ninety", 90),
    ("a hundred", 100),
    ("one hundred and five", 105),
    ("one hundred five", 105),
    ("a hundred and ten", 110),
    ("three hundred and sixty-five", 365),
    ("a thousand", 1000),
    ("one thousand and one", 1001),
    ("eleven hundred", 1100),
    ("twelve hundred and fifty", 1250),
    ("nineteen hundred eighty-four", 1984),
    ("two thousand and five", 2005),
    ("two thousand five", 2005),
    ("two thousand, five", 2005),
    ("twelve thousand three hundred", 12300),
    ("twelve thousand, three hundred", 12300),
    ("seventy thousand", 70000),
    ("a hundred thousand", 100000),
    ("one hundred and one thousand and one", 101001),
    ("four hundred and twelve thousand, seven", 412007),
    ("four hundred and twelve thousand and seven", 412007),
    ("nine hundred and ninety-nine thousand nine hundred and ninety-nine", 999999),
]


@pytest.mark.parametrize(("words", "value"), HAND_CHECKED)
def test_hand_checked_spellings(words: str, value: int) -> None:
    assert words in number_spellings(value)


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("one hundred and twelve thousand", 100012),  # no "and" inside a number like this
        ("twenty hundred", 2000),  # "hundreds" only where the hundreds digit is not 0
        ("a thousand", 2000),
        ("a five", 5),
        ("forty-two", 402),
    ],
)
def test_wrong_spellings_are_not_made(words: str, value: int) -> None:
    assert words not in number_spellings(value)


def test_pair_targets_are_the_digits_of_the_words() -> None:
    """Each generated source is one of the spellings of its target, and means only it."""
    meaning: dict[str, int] = {}
    values = list(range(3000)) + random.Random(0).sample(range(3000, 1_000_000), 3000)
    for value in values:
        for words in number_spellings(value):
            assert meaning.setdefault(words, value) == value, (words, value, meaning[words])
    for pair in make_number_pairs(500, seed=0):
        assert pair["source"] in number_spellings(int(pair["target"]))


def test_number_split_disjoint_and_about_one_in_ten() -> None:
    sides = {
        side: {int(p["target"]) for p in make_number_pairs(n, seed=0, split=side)}
        for side, n in (("train", 2000), ("val", 500), ("test", 500))
    }
    assert not sides["train"] & sides["test"]
    assert not sides["train"] & sides["val"]
    assert not sides["val"] & sides["test"]
    for side, values in sides.items():
        assert all(number_split(v) == side for v in values)
    counts = {side: sum(number_split(v) == side for v in range(20000)) for side in sides}
    assert 1600 < counts["test"] < 2400
    assert 1600 < counts["val"] < 2400


def test_every_held_out_word_occurs_in_training() -> None:
    """A held-out number is a new composition of known words, never an unseen word."""

    def words(values: range, side: str) -> set[str]:
        return {
            word.strip(",")
            for value in values
            if number_split(value) == side
            for spelling in number_spellings(value)
            for word in spelling.replace("-", " ").split()
        }

    train = words(range(0, 3000), "train")
    assert words(range(0, 3000), "test") <= train
    assert words(range(0, 3000), "val") <= train
    assert all(number_split(v) == "train" for v in range(100))


def test_held_out_numbers_do_not_lose_a_digit_position() -> None:
    """Why a hash and not ``value % 10 == 7``: training still has every last digit."""
    train = make_number_pairs(1000, seed=3, split="train")
    assert {p["target"][-1] for p in train} == set("0123456789")
    test = make_number_pairs(300, seed=3, split="test")
    assert len({p["target"][-1] for p in test}) > 5


def test_numbers_cover_all_lengths() -> None:
    lengths = {len(p["target"]) for p in make_number_pairs(600, seed=0)}
    assert lengths == {1, 2, 3, 4, 5, 6}


def test_spell_number_range() -> None:
    with pytest.raises(ValueError):
        synthetic.spell_number(1_000_000, synthetic.STYLES[0])
