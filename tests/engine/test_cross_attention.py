"""Cross-attention in groups of rows, each reading K/V only up to its own longest source."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.engine import cache as cache_module
from bot.engine.cache import _groups
from tests.fixtures.checkpoints import SENTENCES

from .test_equality import reference


def test_rows_sorted_by_length_split_into_groups_and_even_ones_merge() -> None:
    widths = [10] * 8 + [100] * 8 + [300] * 8
    assert _groups(widths) == [(0, 8, 10), (8, 16, 100), (16, 24, 300)]
    assert _groups([100] * 24) == [(0, 24, 100)]  # nothing to save: one call
    assert _groups([100] * 8 + [101] * 8) == [(0, 16, 101)]  # one more call costs more


@pytest.mark.parametrize("fixture", ["flan_dir", "marian_dir", "nllb_dir"])
async def test_grouped_cross_attention_gives_the_same_tokens(
    fixture: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row its own group: results equal transformers' one at a time."""
    monkeypatch.setattr(cache_module, "GROUP_ROWS", 1)
    monkeypatch.setattr(cache_module, "GROUP_CALL_COST", 0)
    path: Path = request.getfixturevalue(fixture)
    texts = [SENTENCES[0], "hi", SENTENCES[3] + " " + SENTENCES[4], SENTENCES[6]]
    engine = Engine.load(str(path), EngineConfig(int8=False, max_batch=8))
    try:
        results = await engine.generate_batch(texts, GenerationOptions(max_new_tokens=8))
        for text, result in zip(texts, results, strict=True):
            assert result.token_ids == reference(path, engine, text, max_new_tokens=8)
    finally:
        await engine.stop()
