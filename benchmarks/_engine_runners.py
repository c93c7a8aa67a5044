"""One engine per subprocess, so each peak RSS is its own. Called by ``benchmarks/engine.py``.

Every runner replays the same open-loop workload: requests with an arrival time, source
token ids (ending with EOS) and a forced output length (min = max new tokens), and reports
each request's latency plus single-request decode speed. CTranslate2 children never
import torch, so their peak RSS is CTranslate2's own (torch alone is ~220 MB).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _engine_workload import Request, Single

MAX_BATCH = 32


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


def single_ms(run_one: Callable[[], None], tokens: int) -> float:
    """Median wall time of a forced ``tokens``-token generation for one request, per token."""
    run_one()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run_one()
        times.append((time.perf_counter() - start) / tokens * 1000)
    return statistics.median(times)


def _wait_for(start: float, arrival: float) -> None:
    delay = start + arrival - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


# -- transformers ---------------------------------------------------------------------
def run_transformers(
    model_dir: Path, workload: list[Request], single: Single, batched: bool
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

    single_per_token = single_ms(lambda: generate([single[0]], single[1]), single[1])
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
    return summarize(latencies, sum(r[2] for r in workload), elapsed, single_per_token)


# -- CTranslate2 ----------------------------------------------------------------------
def pick_batch(lengths: list[int], policy: str) -> tuple[list[int], int]:
    """Indices of the waiting requests (oldest first) one call serves, and its length.

    How a CTranslate2 micro-batcher can serve its queue. "groups": one ``translate_batch``
    per requested length, the oldest request's group first (CTranslate2 stops a row
    early only at EOS, so this is the only way no row decodes past its request).
    "longest": everything waiting, decoded to the longest requested length; shorter
    requests ride along and only their requested tokens count.
    """
    if policy == "longest":
        chosen = list(range(min(len(lengths), MAX_BATCH)))
        return chosen, max(lengths[i] for i in chosen)
    if policy != "groups":
        raise ValueError(f"unknown CTranslate2 policy {policy!r}")
    length = lengths[0]
    return [i for i, n in enumerate(lengths) if n == length][:MAX_BATCH], length


def ct2_translate(
    ct2_dir: Path, threads: int, token: Callable[[int], str], compute_type: str = "int8"
) -> Callable[[list[list[int]], int], None]:
    """A blocking call that decodes exactly ``new_tokens`` for every source."""
    import ctranslate2

    translator = ctranslate2.Translator(
        str(ct2_dir), device="cpu", compute_type=compute_type, intra_threads=threads
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

    return translate


def run_ctranslate2(
    ct2_dir: Path,
    workload: list[Request],
    single: Single,
    threads: int,
    token: Callable[[int], str],
    policy: str,
) -> dict[str, Any]:
    translate = ct2_translate(ct2_dir, threads, token)
    single_per_token = single_ms(lambda: translate([single[0]], single[1]), single[1])
    latencies, pending = [], list(workload)
    start = time.perf_counter()
    while pending:
        _wait_for(start, pending[0][0])
        now = time.perf_counter() - start
        queued = [r for r in pending if r[0] <= now]
        chosen, length = pick_batch([r[2] for r in queued], policy)
        batch = [queued[i] for i in chosen]
        translate([r[1] for r in batch], length)
        done = time.perf_counter() - start
        latencies += [done - r[0] for r in batch]
        served = {id(r) for r in batch}
        pending = [r for r in pending if id(r) not in served]
    elapsed = time.perf_counter() - start - workload[0][0]
    out = summarize(latencies, sum(r[2] for r in workload), elapsed, single_per_token)
    out["policy"] = policy
    return out


# -- seqbot -----------------------------------------------------------------------------
def run_seqbot(
    model_dir: Path,
    workload: list[Request],
    single: Single,
    threads: int,
    int8: bool,
    text: Callable[[list[int]], str],
) -> dict[str, Any]:
    from bot.engine import Engine, EngineConfig, GenerationOptions

    engine = Engine.load(
        str(model_dir), EngineConfig(int8=int8, threads=threads, max_batch=MAX_BATCH)
    )

    async def main() -> dict[str, Any]:
        single_src, single_tokens = single
        forced = GenerationOptions(max_new_tokens=single_tokens, min_new_tokens=single_tokens)
        single_text = text(single_src)

        await engine.generate(single_text, forced)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = await engine.generate(single_text, forced)
            times.append((time.perf_counter() - t0) / single_tokens * 1000)
            assert len(result.token_ids) == single_tokens
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
        out["engine_steps"] = stats.get("steps")
        out["int8_path"] = stats.get("int8_path")
        return out

    return asyncio.run(main())
