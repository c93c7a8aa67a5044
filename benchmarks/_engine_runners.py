"""One engine per subprocess, so each peak RSS is its own. Called by ``benchmarks/engine.py``.

Every runner replays the same workload: requests with an arrival time, source token ids
(ending with EOS) and a forced output length (min = max new tokens), and reports each
request's latency plus single-request decode speed.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Request = tuple[float, list[int], int]  # arrival seconds, source ids, output tokens
MAX_BATCH = 32
SINGLE_NEW_TOKENS = 64


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarize(
    latencies: list[float], useful_tokens: int, elapsed: float, single_ms: float
) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "tokens_per_second": useful_tokens / elapsed,
        "p50_latency_s": statistics.median(ordered),
        "p95_latency_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "elapsed_s": elapsed,
        "useful_tokens": useful_tokens,
        "single_ms_per_token": single_ms,
        "peak_rss_mb": peak_rss_mb(),
    }


def single_ms(run_one: Callable[[], None]) -> float:
    """Median wall time of a 64-token generation for one request, per token."""
    run_one()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run_one()
        times.append((time.perf_counter() - start) / SINGLE_NEW_TOKENS * 1000)
    return statistics.median(times)


def _wait_for(start: float, arrival: float) -> None:
    delay = start + arrival - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


# -- transformers ---------------------------------------------------------------------
def run_transformers(
    model_dir: Path, workload: list[Request], single_src: list[int], batched: bool
) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()

    def generate(sources: list[list[int]], new_tokens: int) -> None:
        width = max(len(s) for s in sources)
        ids = torch.zeros((len(sources), width), dtype=torch.long)
        mask = torch.zeros((len(sources), width), dtype=torch.long)
        for i, src in enumerate(sources):
            ids[i, : len(src)] = torch.tensor(src)
            mask[i, : len(src)] = 1
        with torch.inference_mode():
            model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                num_beams=1,
            )

    single = single_ms(lambda: generate([single_src], SINGLE_NEW_TOKENS))
    latencies, pending = [], list(workload)
    start = time.perf_counter()
    while pending:
        _wait_for(start, pending[0][0])
        now = time.perf_counter() - start
        batch = [r for r in pending if r[0] <= now][:MAX_BATCH] if batched else pending[:1]
        # A transformers batch decodes until its longest request is done; shorter
        # requests ride along, and only their requested tokens count as useful.
        generate([r[1] for r in batch], max(r[2] for r in batch))
        done = time.perf_counter() - start
        latencies += [done - r[0] for r in batch]
        pending = [r for r in pending if r not in batch]
    elapsed = time.perf_counter() - start - workload[0][0]
    return summarize(latencies, sum(r[2] for r in workload), elapsed, single)


# -- CTranslate2 ----------------------------------------------------------------------
def run_ctranslate2(
    ct2_dir: Path,
    workload: list[Request],
    single_src: list[int],
    threads: int,
    token: Callable[[int], str],
) -> dict[str, Any]:
    import ctranslate2

    translator = ctranslate2.Translator(
        str(ct2_dir), device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1
    )

    def translate(sources: list[list[int]], new_tokens: int) -> None:
        out = translator.translate_batch(
            [[token(i) for i in src] for src in sources],
            beam_size=1,
            max_decoding_length=new_tokens,
            min_decoding_length=new_tokens,
            max_batch_size=MAX_BATCH,
        )
        assert all(len(r.hypotheses[0]) >= new_tokens - 1 for r in out)

    single = single_ms(lambda: translate([single_src], SINGLE_NEW_TOKENS))
    latencies, pending = [], list(workload)
    start = time.perf_counter()
    while pending:
        _wait_for(start, pending[0][0])
        now = time.perf_counter() - start
        queued = [r for r in pending if r[0] <= now]
        # CTranslate2 drops finished sequences, so one call per requested length is the
        # best a user can do; serve the length group of the oldest waiting request first.
        length = queued[0][2]
        group = [r for r in queued if r[2] == length][:MAX_BATCH]
        translate([r[1] for r in group], length)
        done = time.perf_counter() - start
        latencies += [done - r[0] for r in group]
        pending = [r for r in pending if r not in group]
    elapsed = time.perf_counter() - start - workload[0][0]
    return summarize(latencies, sum(r[2] for r in workload), elapsed, single)


# -- seqbot -----------------------------------------------------------------------------
def run_seqbot(
    model_dir: Path,
    workload: list[Request],
    single_src: list[int],
    threads: int,
    int8: bool,
    text: Callable[[list[int]], str],
) -> dict[str, Any]:
    from bot.engine import Engine, GenerationOptions

    engine = Engine.load(str(model_dir), int8=int8, threads=threads, max_batch=MAX_BATCH)

    async def main() -> dict[str, Any]:
        forced = GenerationOptions(
            max_new_tokens=SINGLE_NEW_TOKENS, min_new_tokens=SINGLE_NEW_TOKENS
        )
        single_text = text(single_src)

        await engine.generate(single_text, forced)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = await engine.generate(single_text, forced)
            times.append((time.perf_counter() - t0) / SINGLE_NEW_TOKENS * 1000)
            assert len(result.token_ids) == SINGLE_NEW_TOKENS
        start = time.perf_counter()

        async def request(arrival: float, src: list[int], new_tokens: int) -> float:
            await asyncio.sleep(max(0.0, start + arrival - time.perf_counter()))
            opts = GenerationOptions(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
            result = await engine.generate(text(src), opts)
            assert len(result.token_ids) == new_tokens
            return time.perf_counter() - start - arrival

        latencies = await asyncio.gather(*(request(*r) for r in workload))
        elapsed = time.perf_counter() - start - workload[0][0]
        stats = engine.stats()
        await engine.stop()
        out = summarize(
            list(latencies), sum(r[2] for r in workload), elapsed, statistics.median(times)
        )
        out["engine_steps"] = stats["steps"]
        out["int8_path"] = stats["int8_path"]
        return out

    return asyncio.run(main())


def run_drift(
    model_dir: Path, workload: list[Request], threads: int, text: Callable[[list[int]], str]
) -> dict[str, Any]:
    """int8 against fp32 on the same inputs: teacher-forced log-prob error and greedy agreement."""
    from bot.engine import Engine, GenerationOptions

    fp32 = Engine.load(str(model_dir), int8=False, threads=threads)
    int8 = Engine.load(str(model_dir), int8=True, threads=threads)

    async def main() -> dict[str, Any]:
        diffs, same, agree = [], 0, []
        opts = GenerationOptions(max_new_tokens=32)
        samples = workload[:16]
        for _, src, _ in samples:
            a = await fp32.generate(text(src), opts)
            b = await int8.generate(text(src), opts)
            same += a.token_ids == b.token_ids
            prefix = next(
                (
                    i
                    for i, (x, y) in enumerate(zip(a.token_ids, b.token_ids, strict=False))
                    if x != y
                ),
                min(len(a.token_ids), len(b.token_ids)),
            )
            agree.append(prefix / max(1, len(a.token_ids)))
            (sa,), (sb,) = (
                await fp32.score(text(src), [a.text]),
                await int8.score(text(src), [a.text]),
            )
            diffs += [abs(x - y) for x, y in zip(sa.token_logprobs, sb.token_logprobs, strict=True)]
        await fp32.stop()
        await int8.stop()
        return {
            "mean_abs_logprob_diff": statistics.fmean(diffs),
            "max_abs_logprob_diff": max(diffs),
            "greedy_identical_fraction": same / len(samples),
            "greedy_agreeing_prefix_fraction": statistics.fmean(agree),
            "int8_path": int8.stats()["int8_path"],
        }

    return asyncio.run(main())
