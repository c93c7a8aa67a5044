"""``seqbot train`` and ``seqbot train eval``: one-line errors, a run, an evaluation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--data", "x.jsonl"], "--data FILE and --out DIR are required"),
        (["--data", "x.jsonl", "--out", "o", "--arch", "lstm", "--base", "b"], "not both"),
        (["--data", "x.jsonl", "--out", "o", "--val-split", "1.5"], "between 0 and 1"),
        (["--data", "x.jsonl", "--out", "o", "--device", "tpu"], "auto, cpu or cuda"),
        (["--data", "x.jsonl", "--out", "o", "--attention", "dot"], "bahdanau, luong"),
        (["--data", "x.jsonl", "--out", "o", "--layers", "0"], "--layers must be at least 1"),
        (["--data", "x.jsonl", "--out", "o", "--eval-every", "0"], "--eval-every must be at least"),
        (["--data", "x.jsonl", "--out", "o", "--warmup-steps", "-1"], "must not be negative"),
        (["--data", "x.jsonl", "--out", "o", "--val", "v.jsonl", "--val-split", "0.2"], "either"),
        (["--data", "x.jsonl", "--out", "o", "--epochs", "0"], "--epochs must be at least 1"),
        (["--data", "x.jsonl", "--out", "o", "--lr", "0"], "--lr must be positive"),
    ],
)
def test_option_errors(args: list[str], expected: str) -> None:
    assert expected in one_line_error(["train", *args])


def test_data_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "no usable source/target pairs" in one_line_error(
        ["train", "--data", str(empty), "--out", str(tmp_path / "o")]
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("a\nb,c,d\n")
    message = one_line_error(["train", "--data", str(bad), "--out", str(tmp_path / "o")])
    assert "line 1: expected 2 columns" in message and "line 2:" in message
    assert "no such file" in one_line_error(
        ["train", "--data", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "o")]
    )


def test_eval_of_a_directory_that_is_no_model(tmp_path: Path) -> None:
    data = tmp_path / "d.tsv"
    data.write_text("a\tb\n")
    assert "no config.json" in one_line_error(
        ["train", "eval", "--model", str(tmp_path), "--data", str(data)]
    )


def test_help_does_not_import_torch() -> None:
    code = "import sys, bot.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_then_eval(pairs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        ["train", "--data", str(pairs_file), "--out", str(out), "--epochs", "1", "--seed", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "epoch 1, step 2: val loss" in result.output and "done: 1 epoch(s)" in result.output
    result = runner.invoke(app, ["train", "eval", "--model", str(out), "--data", str(pairs_file)])
    assert result.exit_code == 0, result.output
    assert "exact match" in result.output and "chrF" in result.output and "->" in result.output


def test_a_base_that_is_not_here(pairs_file: Path, tmp_path: Path) -> None:
    message = one_line_error(
        ["train", "--data", str(pairs_file), "--out", str(tmp_path / "o"), "--base", "t5-small"]
    )
    assert "seqbot model pull t5-small" in message
