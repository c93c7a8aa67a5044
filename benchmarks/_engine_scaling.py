"""Closed-loop scaling: N chats, each sending its next request the moment its reply arrives.

No think time, so the engine always has every unanswered chat waiting: this is the
throughput and latency at a given number of concurrent chats. Every chat has a fixed,
seeded list of requests (the same for both engines). seqbot gets the chats as concurrent
coroutines; CTranslate2's micro-batcher is simulated in one thread, which is exact for a
blocking ``translate_batch``: when a batch ends, its chats' next requests arrive at that
moment and join whatever is still waiting.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _engine_runners as runners
from _engine_workload import Chat


def point_stats(latencies: list[float], chats: list[Chat], elapsed: float) -> dict[str, Any]:
    """Useful tokens per second (requested tokens only) and latency percentiles."""
    ordered = sorted(latencies)
    useful = sum(n for chat in chats for _, n in chat)
    return {
        "chats": len(chats),
        "requests": len(ordered),
        "useful_tokens": useful,
        "elapsed_s": elapsed,
        "tokens_per_second": useful / elapsed,
        "p50_latency_s": statistics.median(ordered),
        "p95_latency_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


# -- seqbot -----------------------------------------------------------------------------
def run_seqbot(
    model_dir: Path,
    points: dict[int, list[Chat]],
    threads: int,
    text: Callable[[list[int]], str],
) -> dict[str, Any]:
    """Every scaling point on one int8 engine (loaded once; warmed up by one request)."""
    from bot.engine import Engine, EngineConfig, GenerationOptions

    engine = Engine.load(
        str(model_dir), EngineConfig(int8=True, threads=threads, max_batch=runners.MAX_BATCH)
    )

    async def chat(requests: Chat, latencies: list[float]) -> None:
        for src, new_tokens in requests:
            opts = GenerationOptions(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
            sent = time.perf_counter()
            result = await engine.generate(text(src), opts)
            latencies.append(time.perf_counter() - sent)
            assert len(result.token_ids) == new_tokens

    async def main() -> dict[str, Any]:
        await chat([points[min(points)][0][0]], [])
        out = {}
        for count, chats in points.items():
            latencies: list[float] = []
            start = time.perf_counter()
            await asyncio.gather(*(chat(c, latencies) for c in chats))
            out[str(count)] = point_stats(latencies, chats, time.perf_counter() - start)
        await engine.stop()
        return {"points": out}

    return asyncio.run(main())


# -- CTranslate2 --------------------------------------------------------------------------
def run_ctranslate2(
    ct2_dir: Path,
    points: dict[int, list[Chat]],
    threads: int,
    token: Callable[[int], str],
    policy: str,
) -> dict[str, Any]:
    """Every scaling point through one translator, batching by ``policy`` (see runners)."""
    translate = runners.ct2_translate(ct2_dir, threads, token)
    first_src, first_n = points[min(points)][0][0]
    translate([first_src], first_n)
    out = {}
    for count, chats in points.items():
        out[str(count)] = _ct2_closed_loop(translate, chats, policy)
    return {"points": out, "policy": policy}


def _ct2_closed_loop(
    translate: Callable[[list[list[int]], int], None], chats: list[Chat], policy: str
) -> dict[str, Any]:
    served = [0] * len(chats)  # requests answered so far, per chat
    waiting: list[tuple[float, int]] = [(0.0, c) for c in range(len(chats))]  # (sent, chat)
    latencies: list[float] = []
    start = time.perf_counter()
    while waiting:
        lengths = [chats[c][served[c]][1] for _, c in waiting]
        chosen, length = runners.pick_batch(lengths, policy)
        batch = [waiting[i] for i in chosen]
        translate([chats[c][served[c]][0] for _, c in batch], length)
        done = time.perf_counter() - start
        picked = set(chosen)
        waiting = [w for i, w in enumerate(waiting) if i not in picked]
        for sent, c in batch:
            latencies.append(done - sent)
            served[c] += 1
            if served[c] < len(chats[c]):
                waiting.append((done, c))
    return point_stats(latencies, chats, time.perf_counter() - start)
