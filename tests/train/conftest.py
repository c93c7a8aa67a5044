"""Tiny data and a tiny LSTM so a training run takes a second or two."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.train.options import TrainOptions
from bot.train.synthetic import make_pairs


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
