"""Benchmark the seqbot engine against CTranslate2 (and transformers) on chat-like workloads.

    .venv/bin/python benchmarks/engine.py               # full run (~12-15 min on 2 cores)
    .venv/bin/python benchmarks/engine.py --quick       # smoke run (~2 min)
    .venv/bin/python benchmarks/engine.py --rounds 3 --all

A flan-t5-small-shaped model with random weights is built in a temp dir and converted to
CTranslate2 (int8, plus float32 for the drift reference). Every measurement runs in its
own subprocess, so each peak RSS (VmHWM) is that engine's alone. Four parts:

1. Chat workload, open loop: 64 requests at seeded random times, 16-256 source tokens,
   8-64 forced output tokens (min = max new tokens, so random weights do not change the
   work). CTranslate2 runs two micro-batchers (one length group per call; everything
   waiting decoded to the longest). ``--rounds`` interleaves them with seqbot int8 (order
   reversed every other round); transformers and seqbot fp32 run in round 1 only unless
   ``--all``. Ratios are taken within each round; the headline is their median.
2. int8 accuracy per CPU path this machine can run (see ``_engine_drift``).
3. Closed-loop scaling at 1-128 concurrent chats, and with 512-token sources.
4. Reports: ``benchmarks/results/engine.json``, ``benchmarks/results/engine.md`` and
   ``docs/images/engine-scaling.png`` (``--quick`` writes ``engine-quick.*`` instead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import _engine_drift as drift  # noqa: E402
import _engine_model as model_files  # noqa: E402
import _engine_report as reporting  # noqa: E402
import _engine_workload as wl  # noqa: E402

HEADLINE = ("ct2_groups", "ct2_longest", "seqbot_int8")  # every round
EXTRA = ("hf_single", "hf_batch", "seqbot_fp32")  # round 1, or every round with --all


# -- the parts of a run -----------------------------------------------------------------
def run_child(
    kind: str, job: Path, env: dict[str, str] | None = None, arg: str = ""
) -> tuple[dict[str, Any], str]:
    """One measurement in a fresh interpreter; its JSON result and its stderr."""
    cmd = [sys.executable, str(HERE / "_engine_child.py"), kind, str(job), arg]
    started, stalled = time.perf_counter(), _cpu_stall_us()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{kind} {arg} failed")
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # How much of the time some runnable task waited for a CPU (PSI "some"): a shared
    # machine's noise, recorded beside each measurement.
    if stalled is not None and (now := _cpu_stall_us()) is not None:
        result["cpu_pressure"] = round((now - stalled) / 1e6 / elapsed, 3)
    log(f"  {kind} {arg} done in {elapsed:.0f}s (cpu pressure {result.get('cpu_pressure', '?')})")
    return result, proc.stderr


def _cpu_stall_us() -> int | None:
    """Total microseconds some task was runnable but waiting, from /proc/pressure/cpu."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return int(line.rsplit("total=", 1)[1])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(root: Path, plan: wl.Plan, seed: int, threads: int) -> Path:
    """Build the model, convert it for CTranslate2 and write the job file all children read."""
    log("building a flan-t5-small-shaped random model ...")
    model_dir = model_files.build(root / "hf")
    for name, quantization in (("ct2", "int8"), ("ct2_fp32", None)):
        model_files.convert_ct2(model_dir, root / name, quantization)
    job = {
        "model": str(model_dir),
        "ct2": str(root / "ct2"),
        "ct2_fp32": str(root / "ct2_fp32"),
        "threads": threads,
        "workload": wl.open_loop(plan, seed),
        "single": wl.single(plan, seed),
        "drift_samples": plan.drift_samples,
        "drift_new_tokens": plan.drift_new_tokens,
        "scaling": {k: wl.closed_loop(plan, k, seed) for k in ("normal", "long")},
    }
    path = root / "job.json"
    path.write_text(json.dumps(job))
    return path


def run_rounds(job: Path, rounds: int, everything: bool) -> list[dict[str, dict[str, Any]]]:
    out = []
    for i in range(rounds):
        kinds = [*EXTRA, *HEADLINE] if i == 0 or everything else list(HEADLINE)
        if i % 2:
            kinds.reverse()  # neither engine always runs first after a quiet spell
        log(f"round {i + 1}/{rounds}: {', '.join(kinds)}")
        out.append({kind: run_child(kind, job)[0] for kind in kinds})
    return out


def run_drift(job: Path, flags: frozenset[str], paths: int) -> dict[str, Any]:
    log("int8 drift: transformers fp32 reference ...")
    reference, _ = run_child("reference", job)
    payload = json.loads(job.read_text())
    job.write_text(json.dumps({**payload, "reference": reference}))
    out = {}
    for path in drift.runnable_paths(flags)[:paths]:
        forced = drift.PATHS[path][1]
        log(f"int8 drift on the {path} path ...")
        result, stderr = run_child("drift_path", job, {**forced, "CT2_VERBOSE": "1"}, path)
        result["forced"] = forced
        result["ct2_isa"] = _ct2_log(stderr, "Selected ISA:")
        result["ct2_gemm_s8"] = _ct2_log(stderr, "GEMM_S8 backend:")
        out[path] = result
    return out


def _ct2_log(stderr: str, key: str) -> str:
    """A value from CTranslate2's CT2_VERBOSE start-up lines, as it reported it."""
    line = next((ln for ln in stderr.splitlines() if key in ln), "")
    return line.split(key, 1)[1].strip() if line else "?"


def run_scaling(job: Path, plan: wl.Plan, policy: str) -> dict[str, Any]:
    lo, hi = plan.source_tokens
    labels = {
        "normal": f"chat ({lo}-{hi} → {plan.output_tokens[0]}-{plan.output_tokens[1]} tokens)",
        "long": f"long sources ({plan.long_source} → {plan.long_output} tokens)",
    }
    out: dict[str, Any] = {"ct2_policy": policy}
    for kind, label in labels.items():
        log(f"scaling, {label} ...")
        out[kind] = {
            "label": label,
            "seqbot": run_child("scale_seqbot", job, arg=kind)[0],
            "ctranslate2": run_child("scale_ct2", job, arg=f"{kind}:{policy}")[0],
        }
    return out


def write_reports(report: dict[str, Any], out: Path, plot_path: Path) -> None:
    why_not = reporting.plot(report["scaling"], plot_path)
    if why_not:
        log(why_not)
    shown = None
    if not why_not:
        resolved = plot_path.resolve()  # repo-relative in the snippet, as README links it
        shown = str(resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(reporting.markdown(report, shown))
    print(reporting.markdown(report, shown))
    print(f"written to {out}, {out.with_suffix('.md')}" + ("" if why_not else f", {plot_path}"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run of every part")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2; quick 1)")
    parser.add_argument("--all", action="store_true", help="transformers and fp32 every round")
    parser.add_argument("--threads", type=int, default=0, help="threads per engine (0: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON report (the .md snippet goes beside it)")
    parser.add_argument("--plot", help="scaling plot PNG")
    parser.add_argument(
        "--report-from",
        metavar="JSON",
        help="measure nothing: recompute ratios, goals, tables and plot from a saved report",
    )
    return parser.parse_args()


def rereport(saved: Path, plot_path: Path) -> None:
    """Ratios and goals again from a report's raw per-round results (after a report change)."""
    report = json.loads(saved.read_text())
    ratios = [reporting.round_ratios(r) for r in report["results"]["per_round"]]
    median = reporting.median_ratios(ratios)
    report["ratios"] = {"per_round": ratios, "median": median}
    report["targets_met"] = reporting.targets_met(median, report["int8_drift"])
    write_reports(report, saved, plot_path)


def main() -> None:
    args = parse_args()
    if args.report_from:
        default = ROOT / "docs" / "images" / "engine-scaling.png"
        rereport(Path(args.report_from), Path(args.plot) if args.plot else default)
        return
    from bot.engine import cpu

    started = time.perf_counter()
    plan = wl.Plan.quick() if args.quick else wl.Plan.full()
    rounds = args.rounds or (1 if args.quick else 2)
    threads = args.threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="seqbot-bench-") as tmp:
        job = prepare(Path(tmp), plan, args.seed, threads)
        per_round = run_rounds(job, rounds, args.all)
        medians = reporting.median_results(per_round)
        drift_report = run_drift(job, cpu.cpu_model_and_flags()[1], plan.drift_paths)
        better = reporting.better_ct2(medians)
        scaling_report = run_scaling(job, plan, better.removeprefix("ct2_"))
        workload = [tuple(r) for r in json.loads(job.read_text())["workload"]]
    ratios = [reporting.round_ratios(r) for r in per_round]
    median = reporting.median_ratios(ratios)
    report = {
        # Which int8 kernels ran: full-range VNNI and reduce_range AVX2 differ in drift.
        "cpu": cpu.describe(),
        "threads": threads,
        "seed": args.seed,
        "rounds": rounds,
        "quick": args.quick,
        "workload": wl.describe(plan, workload),
        "results": {"per_round": per_round, "median": medians, "better_ct2": better},
        "ratios": {"per_round": ratios, "median": median},
        "targets_met": reporting.targets_met(median, drift_report),
        "int8_drift": drift_report,
        "scaling": scaling_report,
        "wall_time_s": time.perf_counter() - started,
    }
    stem = "engine-quick" if args.quick else "engine"
    out = Path(args.out) if args.out else HERE / "results" / f"{stem}.json"
    default_plot = (
        HERE / "results" / "engine-quick-scaling.png"
        if args.quick
        else ROOT / "docs" / "images" / "engine-scaling.png"
    )
    write_reports(report, out, Path(args.plot) if args.plot else default_plot)


if __name__ == "__main__":
    main()
