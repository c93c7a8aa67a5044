"""Benchmark the seqbot engine against transformers and CTranslate2 on a chat-like workload.

    .venv/bin/python benchmarks/engine.py            # full run (a few minutes)
    .venv/bin/python benchmarks/engine.py --quick    # smoke run

A flan-t5-small-shaped model with random weights is built in a temp dir (and converted
to CTranslate2 int8). 64 requests arrive at seeded random times with 16-256 source
tokens and 8-64 forced output tokens (min = max new tokens, so random weights do not
change the amount of work). Each engine runs in its own subprocess for a clean peak RSS.
Prints a table and writes ``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _engine_model as model_files  # noqa: E402
import _engine_runners as runners  # noqa: E402

ENGINES = {
    "transformers one-at-a-time (fp32)": "hf_single",
    "transformers micro-batch (fp32)": "hf_batch",
    "CTranslate2 micro-batch (int8)": "ct2",
    "seqbot (fp32)": "seqbot_fp32",
    "seqbot (int8)": "seqbot_int8",
}


def make_workload(
    count: int, src: tuple[int, int], out: tuple[int, int], mean_gap: float, seed: int
) -> list[runners.Request]:
    rng = random.Random(seed)
    vocab = model_files.FLAN_T5_SMALL["vocab_size"]
    arrival, requests = 0.0, []
    for _ in range(count):
        arrival += rng.expovariate(1 / mean_gap)
        length = rng.randint(*src)
        ids = [rng.randrange(len(model_files.SPECIALS), vocab) for _ in range(length - 1)] + [1]
        requests.append((arrival, ids, rng.randint(*out)))
    first = requests[0][0]
    return [(a - first, ids, n) for a, ids, n in requests]


def token(i: int) -> str:
    return (
        model_files.SPECIALS[i]
        if i < len(model_files.SPECIALS)
        else f"w{i - len(model_files.SPECIALS)}"
    )


def child(args: argparse.Namespace) -> None:
    import torch

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    payload = json.loads(Path(args.workload).read_text())
    workload = [tuple(r) for r in payload["workload"]]
    single_src = payload["single"]
    model_dir = Path(args.model)

    def text(ids: list[int]) -> str:
        return model_files.words(ids[:-1])  # the tokenizer appends EOS again

    kind = args.child
    if kind in ("hf_single", "hf_batch"):
        result = runners.run_transformers(
            model_dir, workload, single_src, batched=kind == "hf_batch"
        )
    elif kind == "ct2":
        result = runners.run_ctranslate2(Path(args.ct2), workload, single_src, threads, token)
    elif kind == "drift":
        result = runners.run_drift(model_dir, workload, threads, text)
    else:
        result = runners.run_seqbot(
            model_dir, workload, single_src, threads, kind == "seqbot_int8", text
        )
    print(json.dumps(result))


def run_child(
    kind: str, args: argparse.Namespace, model_dir: Path, ct2_dir: Path, workload: Path
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--model",
        str(model_dir),
        "--ct2",
        str(ct2_dir),
        "--workload",
        str(workload),
        "--threads",
        str(args.threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{kind} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| engine | useful tok/s | p50 latency s | p95 latency s | peak RSS MB | single ms/token |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['tokens_per_second']:.0f} | {r['p50_latency_s']:.2f} | "
            f"{r['p95_latency_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['single_ms_per_token']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="16 shorter requests: a smoke run")
    parser.add_argument("--threads", type=int, default=0, help="threads per engine (0: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results" / "engine.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--ct2", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    if args.quick:
        workload = make_workload(16, (16, 128), (8, 32), 0.03, args.seed)
    else:
        workload = make_workload(64, (16, 256), (8, 64), 0.03, args.seed)
    rng = random.Random(args.seed + 1)
    single = [rng.randrange(3, 32000) for _ in range(63)] + [1]
    with tempfile.TemporaryDirectory(prefix="seqbot-bench-") as tmp:
        root = Path(tmp)
        print("building a flan-t5-small-shaped random model ...", file=sys.stderr)
        model_dir = model_files.build(root / "hf")
        import ctranslate2.converters

        ct2_dir = root / "ct2"
        ctranslate2.converters.TransformersConverter(str(model_dir)).convert(
            str(ct2_dir), quantization="int8"
        )
        workload_file = root / "workload.json"
        workload_file.write_text(json.dumps({"workload": workload, "single": single}))
        results: dict[str, dict[str, Any]] = {}
        for name, kind in ENGINES.items():
            print(f"running {name} ...", file=sys.stderr)
            started = time.perf_counter()
            results[name] = run_child(kind, args, model_dir, ct2_dir, workload_file)
            print(f"  done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        print("measuring int8 drift ...", file=sys.stderr)
        drift = run_child("drift", args, model_dir, ct2_dir, workload_file)

    ours, ct2 = results["seqbot (int8)"], results["CTranslate2 micro-batch (int8)"]
    single_hf = results["transformers one-at-a-time (fp32)"]
    ratios = {
        "seqbot_int8_vs_ct2_throughput": ours["tokens_per_second"] / ct2["tokens_per_second"],
        "seqbot_int8_vs_transformers_single_throughput": ours["tokens_per_second"]
        / single_hf["tokens_per_second"],
        "seqbot_int8_vs_ct2_single_ms_per_token": ours["single_ms_per_token"]
        / ct2["single_ms_per_token"],
    }
    targets = {
        "seqbot_int8_vs_ct2_throughput": ratios["seqbot_int8_vs_ct2_throughput"] >= 1.2,
        "seqbot_int8_vs_transformers_single_throughput": ratios[
            "seqbot_int8_vs_transformers_single_throughput"
        ]
        >= 8,
        "seqbot_int8_vs_ct2_single_ms_per_token": ratios["seqbot_int8_vs_ct2_single_ms_per_token"]
        <= 1.3,
    }
    from bot.engine import cpu

    report = {
        # Which int8 kernels ran: full-range VNNI and reduce_range AVX2 differ in drift.
        "cpu": cpu.describe(),
        "workload": {
            "requests": len(workload),
            "quick": args.quick,
            "seed": args.seed,
            "threads": args.threads or os.cpu_count(),
            "source_tokens": [min(len(r[1]) for r in workload), max(len(r[1]) for r in workload)],
            "output_tokens": [min(r[2] for r in workload), max(r[2] for r in workload)],
        },
        "results": results,
        "ratios": ratios,
        "targets_met": targets,
        "int8_drift": drift,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(table(results))
    print()
    for key, value in ratios.items():
        print(f"{key}: {value:.2f} ({'met' if targets[key] else 'missed'})")
    print(f"cpu: {report['cpu']['cpu']}; int8 path: {report['cpu']['int8_path']}")
    print(
        "int8 drift vs fp32: "
        + ", ".join(f"{k}={v:.4f}" for k, v in drift.items() if isinstance(v, float))
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
