"""Benchmark cross-request batched scoring: sentiment-style ``engine.score`` bursts.

    .venv/bin/python benchmarks/scoring.py            # full run (about a minute on 2 cores)
    .venv/bin/python benchmarks/scoring.py --quick    # smoke run

What ``/sentiment`` over a conversation does: one ``engine.score(prompt, labels)`` per
message, all started together with ``asyncio.gather``. Sources are a fixed classification
prompt plus a short message (17-49 tokens), candidates 2-3 one-token labels. The model is
the random flan-t5-small-shaped checkpoint of ``_engine_model.py``.

Each engine (int8, then fp32) runs the same bursts in three modes, alternating so
machine load hits all alike: ``batched`` (the default: a step's score requests sorted by
length, in passes of up to ``SCORE_PASS_TOKENS``), ``one pass a step`` (no size cap:
every score request a step admits in one pass) and ``one per pass``
(``max_score_batch=1``: the scheduler's behaviour before batching). It also measures how
long a live generate request is held up by a burst, and how far batched numbers are
from one-per-pass ones. Prints a table and writes ``benchmarks/results/scoring.json``.

The machine is shared: with 2 threads, another busy process makes OpenMP threads wait
for each other at every op, which hits big batched ops hardest; ``--threads 1`` is the
steadier comparison then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _engine_model as model_files  # noqa: E402

UNCAPPED = 1 << 30
MODES = {  # (max_score_batch, score_pass_tokens)
    "batched": (None, None),
    "one pass a step": (None, UNCAPPED),
    "one per pass": (1, UNCAPPED),
}
PROMPT_WORDS = 12  # "Is the sentiment of the following text positive, negative or neutral?"
GENERATE_TOKENS = 96  # the live request a burst lands on


def make_workload(count: int, seed: int) -> list[tuple[str, list[str]]]:
    """Sentiment-style requests: fixed prompt + message, 2 or 3 one-word labels."""
    rng = random.Random(seed)
    vocab = model_files.FLAN_T5_SMALL["vocab_size"] - len(model_files.SPECIALS)
    prompt = [rng.randrange(vocab) for _ in range(PROMPT_WORDS)]
    labels3, labels2 = ["w7", "w8", "w9"], ["w21", "w22"]  # one token each, + EOS
    requests = []
    for i in range(count):
        message = [rng.randrange(vocab) for _ in range(rng.randint(4, 36))]
        source = " ".join(f"w{t}" for t in prompt + message)
        requests.append((source, labels2 if i % 4 == 3 else labels3))
    return requests


async def run_burst(engine: Any, workload: list[tuple[str, list[str]]]) -> tuple[float, list]:
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.score(s, c) for s, c in workload))
    elapsed = time.perf_counter() - started
    await step_finished()
    return elapsed, results


async def step_finished() -> None:
    """Wait for the engine step that answered last to end (results return before it does)."""
    from bot.engine.scheduler import on_torch_thread

    await asyncio.to_thread(on_torch_thread, lambda: None)


async def generate_under_burst(engine: Any, workload: list[tuple[str, list[str]]]) -> float:
    """Seconds a forced-length generate takes when a score burst arrives mid-decode."""
    from bot.engine import GenerationOptions

    opts = GenerationOptions(max_new_tokens=GENERATE_TOKENS, min_new_tokens=GENERATE_TOKENS)
    started = time.perf_counter()
    live = asyncio.create_task(engine.generate(workload[0][0], opts))
    tokens = engine.stats()["tokens"]  # let it decode a few tokens first
    while engine.stats()["tokens"] < tokens + 8:  # noqa: ASYNC110 - state of the worker
        await asyncio.sleep(0.002)
    await run_burst(engine, workload)
    await live
    elapsed = time.perf_counter() - started
    await step_finished()
    return elapsed


def measure(
    model_dir: Path, int8: bool, workload: list, repeats: int, threads: int
) -> tuple[dict[str, Any], dict[str, list]]:
    """Timings and pass counts of both modes, and each mode's scores of the last burst."""
    from bot.engine import Engine, EngineConfig, GenerationOptions

    engine = Engine.load(str(model_dir), EngineConfig(int8=int8, threads=threads))
    runner = engine._scheduler.runner  # the knobs are runner settings, not Engine arguments
    step_ms: list[float] = []
    score_batch = runner._score_batch

    def timed_score_batch(requests: list) -> None:  # how long each step's scoring holds decode
        t0 = time.perf_counter()
        score_batch(requests)
        step_ms.append((time.perf_counter() - t0) * 1000)

    runner._score_batch = timed_score_batch
    default_cap = runner.score_pass_tokens

    def configure(limit: int | None, cap: int | None) -> None:
        runner.max_score_batch = limit
        runner.score_pass_tokens = cap or default_cap

    async def main() -> tuple[dict[str, Any], dict[str, list]]:
        opts = GenerationOptions(max_new_tokens=GENERATE_TOKENS, min_new_tokens=GENERATE_TOKENS)
        await engine.generate(workload[0][0], GenerationOptions(max_new_tokens=4))  # warm up
        t0 = time.perf_counter()
        await engine.generate(workload[0][0], opts)
        generate_alone = time.perf_counter() - t0
        out: dict[str, Any] = {name: {"seconds": [], "passes": 0} for name in MODES}
        answers: dict[str, list] = {}
        for mode in MODES.values():  # warm up every path
            configure(*mode)
            await run_burst(engine, workload[:8])
        for _ in range(repeats):
            for name, mode in MODES.items():
                configure(*mode)
                before = engine.stats()["score_passes"]
                step_ms.clear()
                seconds, answers[name] = await run_burst(engine, workload)
                out[name]["seconds"].append(seconds)
                out[name]["passes"] = engine.stats()["score_passes"] - before
                out[name]["longest_scoring_step_ms"] = max(step_ms)
        for name, mode in MODES.items():
            configure(*mode)
            step_ms.clear()
            out[name]["generate_under_burst_s"] = await generate_under_burst(engine, workload)
            out[name]["generate_longest_scoring_step_ms"] = max(step_ms)
        for name in MODES:
            r = out[name]
            r["median_s"] = statistics.median(r["seconds"])
            r["requests_per_second"] = len(workload) / r["median_s"]
            r["ms_per_pass"] = r["median_s"] / r["passes"] * 1000
            r["generate_alone_s"] = generate_alone
            r["generate_delay_s"] = r["generate_under_burst_s"] - generate_alone
        for name in MODES:
            out[name]["vs_one_per_pass"] = compare(answers[name], answers["one per pass"])
        out["score_pass_tokens"] = default_cap
        out["int8_path"] = engine.stats()["int8_path"]
        await engine.stop()
        return out, answers

    return asyncio.run(main())


def compare(got: list, want: list) -> dict[str, float]:
    """How far two runs' scores of the same requests are, and how often the label differs."""
    diffs, flips = [], 0
    for a, b in zip(got, want, strict=True):
        diffs += [abs(x.total - y.total) for x, y in zip(a, b, strict=True)]
        best = [max(range(len(r)), key=lambda i, r=r: r[i].total) for r in (a, b)]
        flips += best[0] != best[1]
    return {
        "max_abs_total_diff": max(diffs),
        "mean_abs_total_diff": statistics.fmean(diffs),
        "label_flips": flips,
    }


def table(results: dict[str, dict[str, Any]], count: int) -> str:
    lines = [
        f"| engine | mode | requests/s | passes for {count} | ms/pass | longest scoring step ms "
        "| generate delay s | max abs diff nats |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, r in results.items():
        for mode in MODES:
            m = r[mode]
            diff = m["vs_one_per_pass"]["max_abs_total_diff"]
            lines.append(
                f"| {engine} | {mode} | {m['requests_per_second']:.0f} | {m['passes']} | "
                f"{m['ms_per_pass']:.1f} | {m['longest_scoring_step_ms']:.0f} | "
                f"{m['generate_delay_s']:.2f} | {diff:.1e} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="16 requests, 1 repeat")
    parser.add_argument("--requests", type=int, default=64, help="score requests per burst")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results" / "scoring.json"))
    args = parser.parse_args()
    count, repeats = (16, 1) if args.quick else (args.requests, args.repeats)
    threads = args.threads or os.cpu_count() or 1
    workload = make_workload(count, args.seed)

    import torch

    torch.set_num_threads(threads)
    results: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, list]] = {}
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="seqbot-bench-") as tmp:
        print("building a flan-t5-small-shaped random model ...", file=sys.stderr)
        model_dir = model_files.build(Path(tmp) / "hf")
        for name, int8 in (("seqbot (int8)", True), ("seqbot (fp32)", False)):
            print(f"running {name} ...", file=sys.stderr)
            started = time.perf_counter()
            results[name], answers[name] = measure(model_dir, int8, workload, repeats, threads)
            print(f"  done in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    # Does batching make int8 worse, or only different? Both modes against fp32 alone.
    exact = answers["seqbot (fp32)"]["one per pass"]
    int8_drift = {mode: compare(answers["seqbot (int8)"][mode], exact) for mode in MODES}

    from bot.engine import cpu

    sources = [len(s.split()) + 1 for s, _ in workload]
    report = {
        "cpu": cpu.describe(),
        "workload": {
            "requests": count,
            "repeats": repeats,
            "seed": args.seed,
            "threads": threads,
            "source_tokens": [min(sources), max(sources)],
            "candidates": sorted({len(c) for _, c in workload}),
            "generate_tokens": GENERATE_TOKENS,
        },
        "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "results": results,
        "int8_vs_fp32_one_per_pass": int8_drift,
        "speedup": {
            name: r["batched"]["requests_per_second"] / r["one per pass"]["requests_per_second"]
            for name, r in results.items()
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(table(results, count))
    print()
    for name, value in report["speedup"].items():
        flips = results[name]["batched"]["vs_one_per_pass"]["label_flips"]
        print(f"{name}: batched {value:.2f}x the requests/s of one per pass; {flips} label flips")
    for mode, d in int8_drift.items():
        print(
            f"int8 {mode} vs fp32 alone: mean |diff| {d['mean_abs_total_diff']:.3f} nats, "
            f"max {d['max_abs_total_diff']:.3f}, {d['label_flips']} label flips"
        )
    print(
        f"cpu: {report['cpu']['cpu']} ({report['cpu']['cpu_flags']}); {threads} threads; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
