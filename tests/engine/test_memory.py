"""Where the engine's memory goes: no file views, no float copies, cache rows given back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, GenerationOptions
from bot.engine import scheduler as scheduler_module
from bot.engine.cache import KVCache
from bot.engine.layers import Embedding, Linear, iter_parts

from .conftest import SENTENCES

MiB = 1024 * 1024


def resident_bytes(tensor: torch.Tensor) -> int:
    """Resident memory of the mapping holding ``tensor``, from /proc/self/smaps."""
    address = tensor.data_ptr()
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and ":" not in head:
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("Rss:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("mapping not found")


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


@pytest.mark.parametrize("int8", [False, True])
async def test_a_loaded_engine_keeps_no_view_of_the_checkpoint_file(
    flan_dir: Path, int8: bool
) -> None:
    """A tensor kept as a view into the file once kept the whole mapping resident."""
    engine = Engine.load(str(flan_dir), int8=int8)
    try:
        assert str(flan_dir / "model.safetensors") not in mapped_files()
        assert (await engine.generate(SENTENCES[0], GenerationOptions(max_new_tokens=4))).text
    finally:
        await engine.stop()


@pytest.mark.parametrize("fixture", ["t5_dir", "flan_dir", "marian_dir", "bart_dir", "nllb_dir"])
async def test_an_int8_model_keeps_no_float_weights(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Every linear layer and embedding table is int8 once loaded (no float originals)."""
    engine = Engine.load(str(request.getfixturevalue(fixture)), int8=True)
    try:
        assert engine.int8
        assert not list(iter_parts(engine.model, Linear))
        assert not list(iter_parts(engine.model, Embedding))
        result = await engine.generate(SENTENCES[1], GenerationOptions(max_new_tokens=4))
        assert result.finish_reason in ("eos", "length")  # and it still runs
    finally:
        await engine.stop()


def test_untouched_cache_rows_cost_no_memory_and_freed_rows_are_given_back() -> None:
    cache = KVCache(layers=2, rows=4, heads=2, head_dim=64, max_target=64, max_source=2048)
    assert cache.cross_k.sum().item() == 0.0  # reading maps the zero page only
    assert resident_bytes(cache.cross_k) < MiB
    source = torch.ones(4, 2, 2048, 64)
    for layer in range(2):
        cache.fill_cross(layer, torch.arange(4), source, source)
    full = resident_bytes(cache.cross_k)
    assert full >= 4 * MiB  # 2 layers x 4 rows x 2 heads x 2048 x 64 floats
    cache.release_rows(1, 4)
    assert resident_bytes(cache.cross_k) <= full // 4 + MiB // 4
    assert cache.cross_k[:, 1:].abs().sum().item() == 0.0  # freed rows read as zeros
    assert cache.cross_k[:, 0].eq(1).all()  # the live row is untouched


async def test_finished_requests_give_their_cache_rows_back(flan_dir: Path) -> None:
    engine = Engine.load(str(flan_dir), int8=False, max_batch=8)
    try:
        opts = GenerationOptions(max_new_tokens=6)
        await engine.generate_batch([" ".join(SENTENCES)] * 8, opts)
        cache = engine._scheduler.cache
        assert engine.stats()["active_sequences"] == 0
        assert resident_bytes(cache.cross_k) < MiB // 4
    finally:
        await engine.stop()


async def test_chunked_prefill_gives_the_same_tokens(
    flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources encoded in several small chunks decode exactly as one at a time."""
    texts = [SENTENCES[i % len(SENTENCES)] * (1 + i % 3) for i in range(7)]
    opts = GenerationOptions(max_new_tokens=8)
    alone = Engine.load(str(flan_dir), int8=False)
    try:
        expected = [(await alone.generate(t, opts)).token_ids for t in texts]
    finally:
        await alone.stop()
    monkeypatch.setattr(scheduler_module, "PREFILL_CHUNK_TOKENS", 40)
    encoded: list[int] = []
    chunked = Engine.load(str(flan_dir), int8=False)
    original = chunked.model.encode
    monkeypatch.setattr(
        chunked.model,
        "encode",
        lambda ids, lengths: encoded.append(len(ids)) or original(ids, lengths),
    )
    try:
        results = await chunked.generate_batch(texts, opts)
    finally:
        await chunked.stop()
    assert len(encoded) > 1 and sum(encoded) == len(texts)
    assert [r.token_ids for r in results] == expected


ALLOCATOR = "from bot.engine.memory import tune_allocator; print(tune_allocator())"


@pytest.mark.parametrize("own_setting,expected", [(None, "True"), ("65536", "False")])
def test_the_allocator_is_tuned_unless_the_operator_set_it(
    own_setting: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    if own_setting:
        env["MALLOC_MMAP_THRESHOLD_"] = own_setting
    proc = subprocess.run(
        [sys.executable, "-c", ALLOCATOR],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        check=True,
    )
    assert proc.stdout.strip() == expected
