"""``seqbot model info`` on a directory ``seqbot train`` writes (the LSTM family).

The family has no ``d_model``; info used to print ``d_model None`` for it. It must show
the sizes the model was trained with instead, read from its config.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.engine.cli import model_app

from .test_lstm import tiny_lstm


def info_rows(path: Path) -> dict[str, str]:
    """``seqbot model info PATH`` as {row name: value}."""
    result = CliRunner().invoke(model_app, ["info", str(path)])
    assert result.exit_code == 0, result.output
    return dict(line.split(None, 1) for line in result.stdout.splitlines())


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SEQBOT_MODEL_DIR", str(tmp_path / "hub"))


def test_info_shows_the_lstm_sizes(tmp_path: Path) -> None:
    path = tiny_lstm(tmp_path / "lstm", seed=3, attention="luong", num_layers=2)
    rows = info_rows(path)
    assert rows["model_type"] == "seqbot-lstm"
    assert rows["supported"] == "True"
    assert "d_model" not in rows
    assert rows["embed_dim"] == "16"
    assert rows["hidden_dim"] == "24"
    assert rows["layers"] == "2 (bidirectional encoder) + 2 (decoder)"
    assert rows["attention"] == "luong"
    assert rows["precision"].startswith("float32")


def test_info_of_a_transformer_keeps_d_model(t5_dir: Path) -> None:
    rows = info_rows(t5_dir)
    assert rows["d_model"] != "None"
    assert "hidden_dim" not in rows
