"""Tiny data and a tiny LSTM so a training run takes a second or two."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bot.train.loop import TrainOptions
from bot.train.synthetic import make_pairs

HAS_LSTM = importlib.util.find_spec("bot.engine.lstm") is not None
needs_lstm = pytest.mark.skipif(
    not HAS_LSTM, reason="bot/engine/lstm.py (the LSTM model, written separately) is missing"
)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "dates.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in make_pairs(72, seed=0)) + "\n")
    return path


@pytest.fixture
def tiny(pairs_file: Path, tmp_path: Path) -> TrainOptions:
    """Options for a tiny run: 64 training pairs in 8 batches, 8 validation pairs."""
    return TrainOptions(
        data=pairs_file,
        out=tmp_path / "out",
        epochs=1,
        batch_size=8,
        lr=5e-3,
        val_split=0.11,
        embed_dim=16,
        hidden_dim=32,
        vocab_size=200,
        max_len=24,
        progress=False,
    )
