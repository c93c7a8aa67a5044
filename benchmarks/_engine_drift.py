"""int8 accuracy per CPU path: seqbot int8 and CTranslate2 int8 against one fp32 reference.

The reference is transformers in float32 (one child, default environment): its greedy
outputs for a few sources, and their teacher-forced per-token log-probs. Then one child
per CPU path this machine can run scores those same outputs and decodes the same sources
with seqbot (fp32 and int8) and CTranslate2 (fp32 and int8), with the int8 kernels forced
onto that path by environment variables:

- fbgemm (seqbot's int8 GEMMs): ``FBGEMM_ENABLE_INSTRUCTIONS`` = ``AVX512_E1`` (its name
  for AVX-512 VNNI), ``AVX512`` or ``AVX2``; ``ATEN_CPU_CAPABILITY`` for torch's own
  kernels; ``SEQBOT_ENGINE_INT8_PATH`` set explicitly, since ``auto`` reads /proc/cpuinfo
  and would not see the emulation (without VNNI, auto picks the reduce_range path).
- CTranslate2: ``CT2_FORCE_CPU_ISA`` for its own kernels, and ``ONEDNN_MAX_CPU_ISA``
  because its int8 GEMMs run in oneDNN here (CT2_VERBOSE shows ``GEMM_S8 backend: DNNL``),
  which picks VNNI kernels by itself whatever CT2_FORCE_CPU_ISA says.

Each path child also checks that the forcing took: a full-range fbgemm GEMM whose pair
products overflow int16 is exact on VNNI kernels and saturates on the others.
"""

from __future__ import annotations

import asyncio
import statistics
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _engine_model as model_files
from _engine_workload import EOS, token, token_id, until_special

#: path -> (CPU flags it needs, environment that forces it)
PATHS: dict[str, tuple[frozenset[str], dict[str, str]]] = {
    "vnni": (
        frozenset({"avx512f", "avx512bw", "avx512_vnni"}),
        {
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX512_E1",
            "ATEN_CPU_CAPABILITY": "avx512",
            "SEQBOT_ENGINE_INT8_PATH": "vnni",
            "CT2_FORCE_CPU_ISA": "AVX512",
            "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI",
        },
    ),
    "avx512": (
        frozenset({"avx512f", "avx512bw"}),
        {
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX512",
            "ATEN_CPU_CAPABILITY": "avx512",
            "SEQBOT_ENGINE_INT8_PATH": "avx2",
            "CT2_FORCE_CPU_ISA": "AVX512",
            "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        },
    ),
    "avx2": (
        frozenset({"avx2"}),
        {
            "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
            "ATEN_CPU_CAPABILITY": "avx2",
            "SEQBOT_ENGINE_INT8_PATH": "avx2",
            "CT2_FORCE_CPU_ISA": "AVX2",
            "ONEDNN_MAX_CPU_ISA": "AVX2",
        },
    ),
}


def runnable_paths(flags: frozenset[str]) -> list[str]:
    return [name for name, (needs, _) in PATHS.items() if needs <= flags]


def metrics(
    ref_greedy: list[list[int]],
    greedy: list[list[int]],
    ref_logprobs: list[list[float]],
    logprobs: list[list[float]],
) -> dict[str, float]:
    """Greedy agreement and per-token log-prob drift of one engine against a reference."""
    prefixes = []
    for a, b in zip(ref_greedy, greedy, strict=True):
        same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        prefixes.append((min(len(a), len(b)) if same is None else same) / max(1, len(a)))
    diffs = [
        abs(x - y)
        for ra, rb in zip(ref_logprobs, logprobs, strict=True)
        for x, y in zip(ra, rb, strict=True)
    ]
    return {
        "greedy_identical_fraction": statistics.fmean(
            a == b for a, b in zip(ref_greedy, greedy, strict=True)
        ),
        "greedy_agreeing_prefix_fraction": statistics.fmean(prefixes),
        "mean_abs_logprob_diff": statistics.fmean(diffs),
        "max_abs_logprob_diff": max(diffs),
    }


# -- the reference ----------------------------------------------------------------------
def run_reference(model_dir: Path, sources: list[list[int]], new_tokens: int) -> dict[str, Any]:
    """transformers fp32: greedy outputs, and their teacher-forced log-probs (EOS included)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()
    greedy, logprobs = [], []
    with torch.inference_mode():
        for src in sources:
            ids = torch.tensor([src])
            out = model.generate(
                input_ids=ids, max_new_tokens=new_tokens, do_sample=False, num_beams=1
            )
            target = until_special(out[0, 1:].tolist())
            labels = torch.tensor([[*target, EOS]])
            logits = model(input_ids=ids, labels=labels).logits.float()
            lp = torch.log_softmax(logits, -1).gather(-1, labels[..., None])[0, :, 0]
            greedy.append(target)
            logprobs.append(lp.tolist())
    return {"sources": sources, "greedy": greedy, "logprobs": logprobs}


# -- one CPU path -----------------------------------------------------------------------
def fbgemm_saturates() -> bool:
    """True when fbgemm's int8 GEMM runs non-VNNI kernels (full-range pairs clip in int16)."""
    import torch

    x = torch.ones(2, 64)
    x[1] = 0  # activation range [0, 1]: every 1.0 quantizes to 255
    scale = torch.full((8,), 1 / 127, dtype=torch.double)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        w = torch.quantize_per_channel(
            torch.ones(8, 64), scale, torch.zeros(8, dtype=torch.long), 0, torch.qint8
        )
        packed = torch.ops.quantized.linear_prepack(w, None)
    y = torch.ops.quantized.linear_dynamic(x, packed, False)  # full range, no reduce_range
    return abs(float(y[0, 0]) - 64.0) > 1.0  # 255 * 127 * 2 > 32767: clipped pairs


def run_path(
    model_dir: Path,
    ct2_int8: Path,
    ct2_fp32: Path,
    reference: dict[str, Any],
    threads: int,
    new_tokens: int,
    text: Callable[[list[int]], str],
) -> dict[str, Any]:
    """seqbot and CTranslate2, fp32 and int8, on the reference's sources and outputs."""
    import torch

    from bot.engine import cpu

    ref = (reference["greedy"], reference["logprobs"])
    engines = {
        "seqbot": _seqbot(model_dir, reference, threads, new_tokens, text),
        "ctranslate2": _ctranslate2(ct2_int8, ct2_fp32, reference, threads, new_tokens),
    }
    report: dict[str, Any] = {
        "seqbot_int8_path": cpu.describe()["int8_path"],
        "torch_capability": str(torch.backends.cpu.get_cpu_capability()),
        "fbgemm_full_range_saturates": fbgemm_saturates(),
    }
    for name, out in engines.items():
        report[name] = {
            "int8_vs_transformers_fp32": metrics(ref[0], out["int8"][0], ref[1], out["int8"][1]),
            "int8_vs_own_fp32": metrics(
                out["fp32"][0], out["int8"][0], out["fp32"][1], out["int8"][1]
            ),
            "own_fp32_vs_transformers_fp32": metrics(
                ref[0], out["fp32"][0], ref[1], out["fp32"][1]
            ),
        }
    return report


Outputs = dict[str, tuple[list[list[int]], list[list[float]]]]  # precision -> greedy, lps


def _seqbot(
    model_dir: Path,
    reference: dict[str, Any],
    threads: int,
    new_tokens: int,
    text: Callable[[list[int]], str],
) -> Outputs:
    from bot.engine import Engine, EngineConfig, GenerationOptions

    sources, targets = reference["sources"], reference["greedy"]
    opts = GenerationOptions(max_new_tokens=new_tokens)

    async def one(int8: bool) -> tuple[list[list[int]], list[list[float]]]:
        engine = Engine.load(str(model_dir), EngineConfig(int8=int8, threads=threads))
        results = await asyncio.gather(*(engine.generate(text(s), opts) for s in sources))
        greedy = [until_special(r.token_ids) for r in results]
        scores = [
            (await engine.score(text(s), [model_files.words(t)]))[0].token_logprobs
            for s, t in zip(sources, targets, strict=True)
        ]
        await engine.stop()
        assert all(len(lp) == len(t) + 1 for lp, t in zip(scores, targets, strict=True))
        return greedy, scores

    async def main() -> Outputs:
        return {"fp32": await one(False), "int8": await one(True)}

    return asyncio.run(main())


def _ctranslate2(
    int8_dir: Path, fp32_dir: Path, reference: dict[str, Any], threads: int, new_tokens: int
) -> Outputs:
    """int8 from the int8-converted model (as deployed), fp32 from a float32 conversion."""
    import ctranslate2

    sources = [[token(i) for i in s] for s in reference["sources"]]
    targets = [[token(i) for i in t] for t in reference["greedy"]]
    out: Outputs = {}
    for precision, directory in (("fp32", fp32_dir), ("int8", int8_dir)):
        translator = ctranslate2.Translator(
            str(directory),
            device="cpu",
            compute_type="float32" if precision == "fp32" else "int8",
            intra_threads=threads,
        )
        hyps = translator.translate_batch(sources, beam_size=1, max_decoding_length=new_tokens)
        greedy = [until_special([token_id(t) for t in h.hypotheses[0]]) for h in hyps]
        scores = [r.log_probs for r in translator.score_batch(sources, targets)]
        out[precision] = (greedy, scores)
        del translator
    return out
