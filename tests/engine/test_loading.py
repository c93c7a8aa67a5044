"""Checkpoints on disk: formats, broken files, missing models, int8, the pool."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from bot.engine import (
    Engine,
    EngineConfig,
    EngineError,
    EnginePool,
    GenerationOptions,
    ModelNotAvailable,
)
from bot.engine.cpu import INT8_PATH_ENV, choose_int8_path
from bot.errors import ServiceUnavailable, UserError
from tests.fixtures.checkpoints import SENTENCES

from .conftest import assert_well_formed, hf_model
from .test_equality import reference

OPTS = GenerationOptions(max_new_tokens=8)


def copy_without_weights(src: Path, dst: Path) -> Path:
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.index.json")
    )
    return dst


async def generate(path: Path, text: str = SENTENCES[0], **kwargs: object) -> list[int]:
    engine = Engine.load(str(path), EngineConfig(**kwargs))  # type: ignore[arg-type]
    try:
        return (await engine.generate(text, OPTS)).token_ids
    finally:
        await engine.stop()


async def test_sharded_safetensors_and_pytorch_bin_load_the_same_model(
    flan_dir: Path, tmp_path: Path
) -> None:
    expected = await generate(flan_dir, int8=False)
    sharded = copy_without_weights(flan_dir, tmp_path / "sharded")
    hf_model(flan_dir).save_pretrained(sharded, max_shard_size="20KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    assert await generate(sharded, int8=False) == expected
    binary = copy_without_weights(flan_dir, tmp_path / "bin")
    torch.save(load_file(str(flan_dir / "model.safetensors")), binary / "pytorch_model.bin")
    assert await generate(binary, int8=False) == expected


def test_unknown_architecture_names_the_field(flan_dir: Path, tmp_path: Path) -> None:
    path = shutil.copytree(flan_dir, tmp_path / "gpt")
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(cfg | {"model_type": "gpt2"}))
    with pytest.raises(EngineError, match=r"config.json: model_type 'gpt2' is not supported"):
        Engine.load(str(path))


def test_corrupt_weights_name_the_file(flan_dir: Path, tmp_path: Path) -> None:
    path = shutil.copytree(flan_dir, tmp_path / "corrupt")
    (path / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(EngineError, match=r"model.safetensors: cannot read weights"):
        Engine.load(str(path))


def test_missing_weights_and_tensors_are_named(flan_dir: Path, tmp_path: Path) -> None:
    empty = copy_without_weights(flan_dir, tmp_path / "empty")
    with pytest.raises(EngineError, match="no weights found"):
        Engine.load(str(empty))
    tensors = load_file(str(flan_dir / "model.safetensors"))
    del tensors["decoder.final_layer_norm.weight"]
    save_file(tensors, str(empty / "model.safetensors"))
    with pytest.raises(EngineError, match=r"'decoder\.final_layer_norm\.weight' is missing"):
        Engine.load(str(empty))


def test_missing_model_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailable) as info:
        Engine.load("google/flan-t5-small", EngineConfig(cache_dir=str(tmp_path)))
    assert isinstance(info.value, UserError)
    assert "seqbot model pull google/flan-t5-small" in str(info.value)
    assert "SEQBOT_MODEL" in str(info.value)


def fbgemm_has_vnni() -> bool:
    return choose_int8_path("auto").key == "vnni"


# Tiny random models with d_model=32 are the worst case for per-tensor activation
# quantization (the benchmark reports drift on a realistic shape). Measured on the worst
# fixture, flan: 0.63 nats with VNNI kernels at full range, 0.91 with reduce_range (the same
# on every CPU: its integer sums are exact), 1.74 at full range on AVX2 kernels, which
# saturate. One sentence alone was too noisy to tell these apart (0.6-1.5 nats).
DRIFT_BOUND = 1.2
DRIFT_CANDIDATES = ["the house is wonderful", "a small model", "remind me tomorrow"]


async def int8_drift(path: Path, int8_path: str) -> float:
    """Mean |log-prob| difference per token between float32 and int8, over 18 pairs."""
    fp32 = Engine.load(str(path), EngineConfig(int8=False))
    int8 = Engine.load(str(path), EngineConfig(int8=True, int8_path=int8_path))
    assert int8.int8
    diffs: list[float] = []
    try:
        for source in SENTENCES[:6]:
            exact = await fp32.score(source, DRIFT_CANDIDATES)
            approx = await int8.score(source, DRIFT_CANDIDATES)
            for a, b in zip(exact, approx, strict=True):
                diffs += (torch.tensor(a.token_logprobs) - torch.tensor(b.token_logprobs)).tolist()
        result = await int8.generate(SENTENCES[1], OPTS)
        assert_well_formed(int8, result, OPTS.max_new_tokens)
    finally:
        await fp32.stop()
        await int8.stop()
    return torch.tensor(diffs).abs().mean().item()


@pytest.mark.parametrize("int8_path", ["vnni", "avx2"])
@pytest.mark.parametrize("fixture", ["t5_dir", "flan_dir", "marian_dir"])
async def test_int8_stays_close_to_float32(
    fixture: str, int8_path: str, request: pytest.FixtureRequest
) -> None:
    if int8_path == "vnni" and not fbgemm_has_vnni():
        pytest.skip("fbgemm runs no VNNI kernels on this CPU; full range would saturate")
    drift = await int8_drift(request.getfixturevalue(fixture), int8_path)
    assert drift < DRIFT_BOUND  # a wrong layout or scale gives several nats


DRIFT_ON_AVX2_KERNELS = """
import asyncio, json, sys
from pathlib import Path
from tests.engine.test_loading import int8_drift
print(json.dumps([asyncio.run(int8_drift(Path(p), "auto")) for p in sys.argv[1:]]))
"""


def test_auto_int8_path_is_accurate_on_avx2_kernels(flan_dir: Path) -> None:
    """An AVX2-only CPU, as far as int8 goes: fbgemm limited to its AVX2 kernels.

    fbgemm reads FBGEMM_ENABLE_INSTRUCTIONS once per process, hence the subprocess.
    """
    env = {k: v for k, v in os.environ.items() if k != INT8_PATH_ENV}
    env["FBGEMM_ENABLE_INSTRUCTIONS"] = "AVX2"
    proc = subprocess.run(
        [sys.executable, "-c", DRIFT_ON_AVX2_KERNELS, str(flan_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (drift,) = json.loads(proc.stdout.splitlines()[-1])
    assert drift < DRIFT_BOUND  # full range saturates here: 1.74


async def test_pool_loads_once_and_evicts_least_recently_used(
    t5_dir: Path, flan_dir: Path, marian_dir: Path
) -> None:
    pool = EnginePool(EngineConfig(int8=False), str(flan_dir), max_loaded=2)
    first, again = await asyncio.gather(pool.get(), pool.get(str(flan_dir)))
    assert first is again
    await pool.get(str(t5_dir))
    await pool.get()  # flan becomes most recent
    await pool.get(str(marian_dir))
    assert pool.loaded == [str(flan_dir), str(marian_dir)]
    expected = reference(flan_dir, first, "hi", max_new_tokens=OPTS.max_new_tokens)
    assert (await first.generate("hi", OPTS)).token_ids == expected
    await pool.close()


async def test_an_evicted_engine_refuses_work_instead_of_restarting(
    t5_dir: Path, flan_dir: Path
) -> None:
    pool = EnginePool(EngineConfig(int8=False), str(flan_dir), max_loaded=1)
    evicted = await pool.get()
    await pool.get(str(t5_dir))
    with pytest.raises(ServiceUnavailable, match="please try again"):
        await evicted.generate("hi", OPTS)
    fresh = await pool.get()
    assert fresh is not evicted
    expected = reference(flan_dir, fresh, "hi", max_new_tokens=OPTS.max_new_tokens)
    assert (await fresh.generate("hi", OPTS)).token_ids == expected
    await pool.close()
    with pytest.raises(ServiceUnavailable, match="please try again"):
        await fresh.generate("hi", OPTS)
    assert not evicted.stats()["running"] and not fresh.stats()["running"]
