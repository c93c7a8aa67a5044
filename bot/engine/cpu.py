"""What this CPU is, and which int8 path is accurate on it.

fbgemm's int8 GEMM multiplies uint8 activations by int8 weights. With AVX-512 VNNI
(``vpdpbusd``) the products accumulate straight into int32. Without it (AVX2, and AVX-512
without VNNI) the kernel uses ``vpmaddubsw``, which adds each pair of products in a
*saturating int16*: 2 * 255 * 127 overflows, so full-range activations silently clip.
Measured on tiny T5/Marian models: 1.3-1.6 nats of drift against float32 on AVX2 kernels,
against under 1 nat with ``reduce_range`` (7-bit activations, 2 * 127 * 127 fits) and
on VNNI kernels. fbgemm has no AVX-VNNI (``avx_vnni``, VEX-encoded) kernels, and AMX CPUs
all have AVX-512 VNNI, so only ``avx512_vnni`` earns the full range.

``SEQBOT_ENGINE_INT8_PATH`` (``auto``, ``vnni`` or ``avx2``) overrides the choice.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from .errors import EngineError

INT8_PATH_ENV = "SEQBOT_ENGINE_INT8_PATH"
#: fbgemm's own switch; any of these values keeps it off its VNNI kernels.
FBGEMM_ISA_ENV = "FBGEMM_ENABLE_INSTRUCTIONS"
_FBGEMM_WITHOUT_VNNI = {"AVX2", "AVX512", "AVX512_256"}
#: The flags that decide or explain the int8 path, in the order they are shown.
FLAGS_SHOWN = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")

Int8Key = Literal["vnni", "avx2"]
_NAMES: dict[str, str] = {
    "vnni": "fbgemm-vnni (full range)",
    "avx2": "fbgemm-avx2 (reduce_range)",
}


@dataclass(frozen=True)
class Int8Path:
    """How int8 linear layers quantize activations, and why that was chosen."""

    key: Int8Key
    reason: str

    @property
    def reduce_range(self) -> bool:
        return self.key != "vnni"

    @property
    def name(self) -> str:
        return _NAMES[self.key]

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """Model name and flags of the first processor listed in ``/proc/cpuinfo``."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return model, flags


@cache
def _proc_cpuinfo() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _flags_from_torch() -> frozenset[str]:
    """Where there is no /proc/cpuinfo: ask torch's cpuinfo, as fbgemm does (private API)."""
    import torch

    probes = {
        "avx2": "_is_avx2_supported",
        "avx512f": "_is_avx512_supported",
        "avx512_vnni": "_is_vnni_supported",
        "amx_tile": "_is_amx_tile_supported",
    }
    found = set()
    for flag, probe in probes.items():
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            found.add(flag)
    return frozenset(found)


def cpu_model_and_flags(cpuinfo: str | None = None) -> tuple[str, frozenset[str]]:
    """This CPU's model name and flags (or those described by ``cpuinfo`` text)."""
    text = cpuinfo if cpuinfo is not None else _proc_cpuinfo()
    if text is None:
        return platform.processor() or platform.machine(), _flags_from_torch()
    return parse_cpuinfo(text)


def torch_cpu_capability() -> str:
    """The vector level torch's own kernels dispatch to, e.g. ``AVX512`` or ``AVX2``."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def choose_int8_path(
    requested: str | None = None,
    *,
    cpuinfo: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Int8Path:
    """The int8 path: ``requested``, else ``SEQBOT_ENGINE_INT8_PATH``, else from the CPU."""
    env = os.environ if environ is None else environ
    choice = (requested or env.get(INT8_PATH_ENV) or "auto").strip().lower()
    if choice in _NAMES:
        source = f"forced by {INT8_PATH_ENV}" if requested is None else "forced"
        return Int8Path(choice, source)  # type: ignore[arg-type]
    if choice != "auto":
        raise EngineError(f"{INT8_PATH_ENV} must be auto, vnni or avx2, not {choice!r}.")
    model, flags = cpu_model_and_flags(cpuinfo)
    label = model or "unknown CPU"
    if "avx512_vnni" not in flags:
        return Int8Path("avx2", f"auto, {label} has no AVX-512 VNNI")
    isa = env.get(FBGEMM_ISA_ENV, "").strip().upper()
    if isa in _FBGEMM_WITHOUT_VNNI:
        return Int8Path("avx2", f"auto, {FBGEMM_ISA_ENV}={isa} keeps fbgemm off VNNI")
    return Int8Path("vnni", f"auto, {label} has AVX-512 VNNI")


def describe(requested: str | None = None) -> dict[str, str]:
    """CPU facts for ``seqbot model info`` and the benchmark report."""
    model, flags = cpu_model_and_flags()
    return {
        "cpu": model or "unknown",
        "cpu_flags": " ".join(f for f in FLAGS_SHOWN if f in flags) or "none",
        "torch_capability": torch_cpu_capability(),
        "int8_path": str(choose_int8_path(requested)),
    }
