"""The int8 path the engine picks for the CPU it runs on, and where it says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.engine import Engine, EngineConfig, EngineError
from bot.engine.cli import model_app
from bot.engine.cpu import INT8_PATH_ENV, choose_int8_path, parse_cpuinfo

BASE = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c"
AMD_EPYC_AVX2 = f"""processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: {BASE} avx2 bmi2 sha_ni

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: {BASE} avx2 bmi2 sha_ni
"""
SKYLAKE_AVX512 = f"""processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
flags\t\t: {BASE} avx2 avx512f avx512dq avx512cd avx512bw avx512vl
"""
ALDER_LAKE_AVX_VNNI = f"""processor\t: 0
model name\t: 12th Gen Intel(R) Core(TM) i7-12700
flags\t\t: {BASE} avx2 avx_vnni
"""
CASCADE_LAKE_VNNI = f"""processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz
flags\t\t: {BASE} avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni
"""
SAPPHIRE_RAPIDS_AMX = f"""processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: {BASE} avx2 avx512f avx512bw avx512vl avx512_vnni avx_vnni amx_bf16 amx_tile amx_int8
"""


@pytest.fixture(autouse=True)
def no_forced_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INT8_PATH_ENV, raising=False)
    monkeypatch.delenv("FBGEMM_ENABLE_INSTRUCTIONS", raising=False)


def test_cpuinfo_gives_the_model_name_and_flags() -> None:
    model, flags = parse_cpuinfo(AMD_EPYC_AVX2)
    assert model == "AMD EPYC 7B12"
    assert {"avx2", "sse4_2"} <= flags and "avx512f" not in flags


@pytest.mark.parametrize(
    ("cpuinfo", "key", "reduce_range"),
    [
        (AMD_EPYC_AVX2, "avx2", True),
        (SKYLAKE_AVX512, "avx2", True),  # AVX-512 without VNNI still sums pairs in int16
        (ALDER_LAKE_AVX_VNNI, "avx2", True),  # fbgemm has no AVX-VNNI kernels
        (CASCADE_LAKE_VNNI, "vnni", False),
        (SAPPHIRE_RAPIDS_AMX, "vnni", False),
    ],
    ids=["epyc-avx2", "skylake-avx512", "alder-lake-avx-vnni", "cascade-lake-vnni", "spr-amx"],
)
def test_auto_uses_full_range_only_where_fbgemm_runs_vnni(
    cpuinfo: str, key: str, reduce_range: bool
) -> None:
    path = choose_int8_path(cpuinfo=cpuinfo, environ={})
    assert (path.key, path.reduce_range) == (key, reduce_range)
    assert path.name == (
        "fbgemm-vnni (full range)" if key == "vnni" else "fbgemm-avx2 (reduce_range)"
    )


def test_fbgemm_limited_to_avx2_kernels_is_not_vnni() -> None:
    environ = {"FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}
    assert choose_int8_path(cpuinfo=CASCADE_LAKE_VNNI, environ=environ).key == "avx2"


def test_the_path_can_be_forced_by_argument_or_environment() -> None:
    assert choose_int8_path("avx2", cpuinfo=CASCADE_LAKE_VNNI, environ={}).reduce_range
    forced = choose_int8_path(cpuinfo=AMD_EPYC_AVX2, environ={INT8_PATH_ENV: "vnni"})
    assert forced.key == "vnni" and not forced.reduce_range
    assert INT8_PATH_ENV in forced.reason
    with pytest.raises(EngineError, match=f"{INT8_PATH_ENV} must be auto, vnni or avx2"):
        choose_int8_path(cpuinfo=AMD_EPYC_AVX2, environ={INT8_PATH_ENV: "fast"})


def test_engine_start_logs_its_int8_path_once(
    flan_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.engine"):
        engine = Engine.load(str(flan_dir), EngineConfig(int8=True, int8_path="avx2"))
    lines = [r.getMessage() for r in caplog.records if "int8 path" in r.getMessage()]
    assert len(lines) == 1
    assert "fbgemm-avx2 (reduce_range)" in lines[0]
    assert engine.stats()["int8_path"] == "fbgemm-avx2 (reduce_range)"


def test_environment_forces_the_engine_path(
    flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INT8_PATH_ENV, "avx2")
    assert Engine.load(str(flan_dir)).int8_path.reduce_range


def test_model_info_shows_the_cpu_and_int8_path(
    t5_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(INT8_PATH_ENV, "avx2")
    result = CliRunner().invoke(model_app, ["info", str(t5_dir)])
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["int8_path"].startswith("fbgemm-avx2 (reduce_range)")
    assert rows["cpu"] and "cpu_flags" in rows and "torch_capability" in rows
