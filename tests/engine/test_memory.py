"""Where the engine's memory goes: no file views, no float copies, cache rows given back."""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.engine import runner as runner_module
from bot.engine.cache import KVCache
from bot.engine.layers import Embedding, Linear, iter_parts
from tests.fixtures.checkpoints import SENTENCES

from .conftest import assert_well_formed

MiB = 1024 * 1024


def resident_bytes(tensor: torch.Tensor) -> int:
    """Bytes of ``tensor``'s pages that are resident, from mincore(2).

    (The VMA's Rss in /proc/self/smaps would not do: the kernel merges adjacent
    anonymous maps, so one VMA can hold several cache tensors.)
    """
    page = mmap.PAGESIZE
    start = tensor.data_ptr() // page * page
    length = tensor.data_ptr() + tensor.numel() * tensor.element_size() - start
    pages = -(-length // page)
    vec = (ctypes.c_ubyte * pages)()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    assert libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(length), vec) == 0
    return sum(b & 1 for b in vec) * page


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


@pytest.mark.parametrize("int8", [False, True])
async def test_a_loaded_engine_keeps_no_view_of_the_checkpoint_file(
    flan_dir: Path, int8: bool
) -> None:
    """A tensor kept as a view into the file once kept the whole mapping resident."""
    engine = Engine.load(str(flan_dir), EngineConfig(int8=int8))
    try:
        assert str(flan_dir / "model.safetensors") not in mapped_files()
        result = await engine.generate(SENTENCES[0], GenerationOptions(max_new_tokens=4))
        assert_well_formed(engine, result, 4)
        assert result.text  # these four tokens are words, not only special tokens
    finally:
        await engine.stop()


@pytest.mark.parametrize("fixture", ["t5_dir", "flan_dir", "marian_dir", "bart_dir", "nllb_dir"])
async def test_an_int8_model_keeps_no_float_weights(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Every linear layer and embedding table is int8 once loaded (no float originals)."""
    engine = Engine.load(str(request.getfixturevalue(fixture)), EngineConfig(int8=True))
    try:
        assert engine.int8
        assert not list(iter_parts(engine.model, Linear))
        assert not list(iter_parts(engine.model, Embedding))
        result = await engine.generate(SENTENCES[1], GenerationOptions(max_new_tokens=4))
        assert_well_formed(engine, result, 4)  # and it still runs
    finally:
        await engine.stop()


def private_resident() -> int:
    """Anonymous and shared-memory resident bytes of this process."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return sum(int(fields[k].split()[0]) * 1024 for k in ("RssAnon", "RssShmem"))


def test_untouched_cache_rows_cost_no_memory_and_freed_rows_are_given_back() -> None:
    cache = KVCache(layers=2, rows=4, heads=2, head_dim=64, max_target=64, max_source=2048)
    before = private_resident()
    assert cache.cross_k.sum().item() == 0.0  # reading maps the zero page only
    assert private_resident() - before < MiB  # a shared map allocated all 8 MiB here
    source = torch.ones(4, 2, 2048, 64)
    for layer in range(2):
        cache.fill_cross(layer, torch.arange(4), source, source)
    full = resident_bytes(cache.cross_k)
    assert full == cache.cross_k.numel() * 4  # 2 layers x 4 rows x 2 heads x 2048 x 64
    cache.release_rows(1, 4)
    assert resident_bytes(cache.cross_k) == full // 4
    assert cache.cross_k[:, 1:].abs().sum().item() == 0.0  # freed rows read as zeros
    assert cache.cross_k[:, 0].eq(1).all()  # the live row is untouched


async def test_finished_long_requests_give_their_cache_rows_back(
    flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "KEEP_SOURCE", 16)
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=8))
    opts = GenerationOptions(max_new_tokens=6)
    await engine.generate_batch([" ".join(SENTENCES)] * 8, opts)
    await engine.stop()  # results reach callers before the step's compaction ends
    assert engine.stats()["active_sequences"] == 0
    assert resident_bytes(engine._scheduler.runner.cache.cross_k) == 0


async def test_chunked_prefill_gives_the_same_tokens(
    flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources encoded in several small chunks decode exactly as one at a time."""
    texts = [SENTENCES[i % len(SENTENCES)] * (1 + i % 3) for i in range(7)]
    opts = GenerationOptions(max_new_tokens=8)
    alone = Engine.load(str(flan_dir), EngineConfig(int8=False))
    try:
        expected = [(await alone.generate(t, opts)).token_ids for t in texts]
    finally:
        await alone.stop()
    monkeypatch.setattr(runner_module, "PREFILL_CHUNK_TOKENS", 40)
    encoded: list[int] = []
    chunked = Engine.load(str(flan_dir), EngineConfig(int8=False))
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


GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.parametrize("own_setting,expected", [(None, str(GLIBC)), ("65536", "False")])
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


async def test_rows_of_usual_length_stay_warm_for_the_next_request(
    flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Giving pages back and faulting them in again per request cost 15-20% throughput."""
    monkeypatch.setattr(runner_module, "KEEP_SOURCE", 10_000)
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=8))
    await engine.generate_batch([" ".join(SENTENCES)] * 8, GenerationOptions(max_new_tokens=6))
    await engine.stop()
    cache = engine._scheduler.runner.cache
    assert engine.stats()["active_sequences"] == 0
    assert resident_bytes(cache.cross_k) >= cache.cross_k.numel() * 4 // 4
