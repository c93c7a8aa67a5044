"""Ratios, targets, the markdown snippet and the scaling plot of ``benchmarks/engine.py``.

Every ratio is computed inside one round (engines measured minutes apart on a shared
machine are not comparable); the headline is the median over rounds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

NAMES = {
    "hf_single": "transformers one-at-a-time (fp32)",
    "hf_batch": "transformers micro-batch to longest (fp32)",
    "ct2_groups": "CTranslate2 micro-batch, length groups (int8)",
    "ct2_longest": "CTranslate2 micro-batch to longest (int8)",
    "seqbot_fp32": "seqbot (fp32)",
    "seqbot_int8": "seqbot (int8)",
}
CT2 = ("ct2_groups", "ct2_longest")
#: ratio -> (comparison, target, what it compares)
TARGETS = {
    "throughput_vs_better_ct2": (
        ">=",
        1.5,
        "chat throughput, seqbot int8 / the better CTranslate2 micro-batcher",
    ),
    "single_ms_per_token_vs_ct2": (
        "<=",
        1.0,
        "single-request ms/token, seqbot int8 / CTranslate2 int8 (its faster runner)",
    ),
    "peak_rss_vs_ct2": (
        "<=",
        1.5,
        "peak RSS, seqbot int8 / CTranslate2 int8 (the better micro-batcher, as above)",
    ),
}
METRICS = (
    "tokens_per_second",
    "p50_latency_s",
    "p95_latency_s",
    "peak_rss_mb",
    "single_ms_per_token",
)


def round_ratios(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """seqbot int8 against CTranslate2 (and transformers, when it ran) within one round.

    Memory is compared with the micro-batcher the throughput goal is measured against:
    batching everything waiting is what makes CTranslate2 fast and what costs it memory
    (its length-group runner keeps batches small and slow). The ratio against the
    smaller of the two is reported too, as ``peak_rss_vs_smaller_ct2``.
    """
    ours = results["seqbot_int8"]
    ct2 = [results[k] for k in CT2]
    tps = "tokens_per_second"
    better = max(ct2, key=lambda c: c[tps])
    ratios = {
        "throughput_vs_better_ct2": ours[tps] / better[tps],
        "single_ms_per_token_vs_ct2": ours["single_ms_per_token"]
        / min(c["single_ms_per_token"] for c in ct2),
        "peak_rss_vs_ct2": ours["peak_rss_mb"] / better["peak_rss_mb"],
        "peak_rss_vs_smaller_ct2": ours["peak_rss_mb"] / min(c["peak_rss_mb"] for c in ct2),
    }
    for kind in (*CT2, "hf_single"):
        if kind in results:
            ratios[f"throughput_vs_{kind}"] = ours[tps] / results[kind][tps]
    return ratios


def median_results(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per runner, the median of each metric over the rounds it ran in."""
    out: dict[str, dict[str, Any]] = {}
    for kind in NAMES:
        runs = [r[kind] for r in rounds if kind in r]
        if runs:
            out[kind] = {m: statistics.median(r[m] for r in runs) for m in METRICS}
            out[kind]["rounds"] = len(runs)
    return out


def median_ratios(per_round: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for r in per_round for k in r}
    return {k: statistics.median(r[k] for r in per_round if k in r) for k in sorted(keys)}


def better_ct2(medians: dict[str, dict[str, Any]]) -> str:
    return max(CT2, key=lambda k: medians[k]["tokens_per_second"])


def targets_met(ratios: dict[str, float], drift: dict[str, Any]) -> dict[str, Any]:
    met: dict[str, Any] = {}
    for key, (op, target, _) in TARGETS.items():
        met[key] = ratios[key] >= target if op == ">=" else ratios[key] <= target
    met["int8_drift_no_worse_than_ct2"] = {
        path: _drift(d, "seqbot") <= _drift(d, "ctranslate2") for path, d in drift.items()
    }
    return met


def _drift(path_report: dict[str, Any], engine: str) -> float:
    return path_report[engine]["int8_vs_transformers_fp32"]["mean_abs_logprob_diff"]


# -- markdown ---------------------------------------------------------------------------
def markdown(report: dict[str, Any], plot_path: str | None) -> str:
    parts = [
        _header(report),
        _main_table(report),
        _rounds_table(report),
        _goal_table(report),
        _drift_table(report["int8_drift"]),
        _scaling_table(report["scaling"]),
    ]
    if plot_path:
        parts.append(f"![Throughput and p95 latency against concurrent chats]({plot_path})")
    return "\n\n".join(parts) + "\n"


def _header(report: dict[str, Any]) -> str:
    cpu, w = report["cpu"], report["workload"]
    flags = set(cpu["cpu_flags"].split())
    shown = {
        "avx2": "avx2" in flags,
        "avx512": "avx512f" in flags,
        "vnni": "avx512_vnni" in flags or "avx_vnni" in flags,
        "amx": "amx_tile" in flags,
    }
    flag_text = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in shown.items())
    return (
        f"**CPU:** {cpu['cpu']} ({flag_text}; torch kernels {cpu['torch_capability']}). "
        f"**seqbot int8 path:** {cpu['int8_path']}.\n\n"
        f"{report['threads']} threads per engine, seed {report['seed']}, "
        f"{report['rounds']} round(s), median shown; {w['requests']} requests at seeded "
        f"random times (mean gap 30 ms), {w['source_tokens'][0]}-{w['source_tokens'][1]} "
        f"source tokens, {w['output_tokens'][0]}-{w['output_tokens'][1]} forced output "
        f"tokens. Whole run: {report['wall_time_s'] / 60:.1f} min"
        f"{' (--quick)' if report['quick'] else ''}."
    )


def _main_table(report: dict[str, Any]) -> str:
    lines = [
        "| engine | rounds | useful tok/s | p50 latency s | p95 latency s | peak RSS MB "
        "| single ms/token |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in report["results"]["median"].items():
        lines.append(
            f"| {NAMES[kind]} | {r['rounds']} | {r['tokens_per_second']:.0f} | "
            f"{r['p50_latency_s']:.2f} | {r['p95_latency_s']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{r['single_ms_per_token']:.2f} |"
        )
    return "\n".join(lines)


def _goal_table(report: dict[str, Any]) -> str:
    per_round = report["ratios"]["per_round"]
    head = " | ".join(f"round {i + 1}" for i in range(len(per_round)))
    lines = [
        f"| goal | target | {head} | median | met |",
        "|---|---:|" + "---:|" * len(per_round) + "---:|---|",
    ]
    for key, (op, target, what) in TARGETS.items():
        rounds = " | ".join(f"{r[key]:.2f}x" for r in per_round)
        met = report["targets_met"][key]
        lines.append(
            f"| {what} | {'≥' if op == '>=' else '≤'} {target}x | {rounds} | "
            f"{report['ratios']['median'][key]:.2f}x | {'met' if met else 'missed'} |"
        )
    for path, ok in report["targets_met"]["int8_drift_no_worse_than_ct2"].items():
        d = report["int8_drift"][path]
        lines.append(
            f"| int8 log-prob drift on the {path} path, seqbot / CTranslate2 | ≤ 1x | "
            + " | ".join("" for _ in per_round)
            + f" | {_drift(d, 'seqbot') / _drift(d, 'ctranslate2'):.2f}x | "
            f"{'met' if ok else 'missed'} |"
        )
    return "\n".join(lines)


def _drift_table(drift: dict[str, Any]) -> str:
    lines = [
        "int8 against transformers fp32: greedy outputs (32 new tokens at most) and "
        "per-token log-probs teacher-forced on transformers' greedy outputs (EOS included); "
        "each engine's own fp32 for context. The random model's next-token distribution "
        "is nearly flat, so any int8 noise flips some argmaxes and greedy agreement stays "
        "low for both engines: the log-prob drift is the number to compare.",
        "",
        "| path | engine | greedy identical | agreeing prefix | mean abs Δ log-prob "
        "| max abs Δ | int8 vs own fp32: mean Δ | own fp32 vs transformers: mean Δ |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for path, d in drift.items():
        for engine, label in (("seqbot", "seqbot"), ("ctranslate2", "CTranslate2")):
            m = d[engine]["int8_vs_transformers_fp32"]
            own = d[engine]["int8_vs_own_fp32"]["mean_abs_logprob_diff"]
            fp32 = d[engine]["own_fp32_vs_transformers_fp32"]["mean_abs_logprob_diff"]
            lines.append(
                f"| {path if engine == 'seqbot' else ''} | {label} | "
                f"{m['greedy_identical_fraction']:.2f} | "
                f"{m['greedy_agreeing_prefix_fraction']:.2f} | {m['mean_abs_logprob_diff']:.4f} "
                f"| {m['max_abs_logprob_diff']:.3f} | {own:.4f} | {fp32:.4f} |"
            )
    lines.append("")
    for path, d in drift.items():
        forced = ", ".join(f"`{k}={v}`" for k, v in d["forced"].items())
        lines.append(
            f"- {path}: {forced}. Checked: fbgemm ran "
            f"{'saturating (non-VNNI)' if d['fbgemm_full_range_saturates'] else 'VNNI'} "
            f"kernels, seqbot chose {d['seqbot_int8_path']!r}, torch kernels "
            f"{d['torch_capability']}, CTranslate2 reported ISA {d.get('ct2_isa', '?')} and "
            f"int8 GEMM {d.get('ct2_gemm_s8', '?')}."
        )
    return "\n".join(lines)


def _rounds_table(report: dict[str, Any]) -> str:
    per_round = report["results"]["per_round"]
    head = " | ".join(f"round {i + 1}" for i in range(len(per_round)))
    lines = [
        "Each round: useful tok/s, single-request ms/token, and the CPU pressure while it "
        "ran (share of time some task waited for a CPU: other work on the machine).",
        "",
        f"| engine | {head} |",
        "|---|" + "---|" * len(per_round),
    ]
    for kind, name in NAMES.items():
        cells = [
            f"{r[kind]['tokens_per_second']:.0f} tok/s, {r[kind]['single_ms_per_token']:.2f} "
            f"ms/tok ({r[kind].get('cpu_pressure', float('nan')):.2f})"
            if kind in r
            else ""
            for r in per_round
        ]
        if any(cells):
            lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _scaling_table(scaling: dict[str, Any]) -> str:
    policy = scaling["ct2_policy"]
    lines = [
        f"Closed loop (each chat sends its next request when its reply arrives); "
        f"CTranslate2 batches by its better policy here, `{policy}`.",
        "",
        "| workload | chats | requests | seqbot tok/s | seqbot p95 s | CTranslate2 tok/s "
        "| CTranslate2 p95 s | tok/s ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("normal", "long"):
        for chats, ours in scaling[kind]["seqbot"]["points"].items():
            theirs = scaling[kind]["ctranslate2"]["points"][chats]
            lines.append(
                f"| {scaling[kind]['label']} | {chats} | {ours['requests']} | "
                f"{ours['tokens_per_second']:.0f} | {ours['p95_latency_s']:.2f} | "
                f"{theirs['tokens_per_second']:.0f} | {theirs['p95_latency_s']:.2f} | "
                f"{ours['tokens_per_second'] / theirs['tokens_per_second']:.2f}x |"
            )
    pressure = ", ".join(
        f"{scaling[k]['label']}: seqbot {scaling[k]['seqbot'].get('cpu_pressure', '?')}, "
        f"CTranslate2 {scaling[k]['ctranslate2'].get('cpu_pressure', '?')}"
        for k in ("normal", "long")
    )
    lines += ["", f"CPU pressure while each ran (see above): {pressure}."]
    return "\n".join(lines)


# -- plot -------------------------------------------------------------------------------
def plot(scaling: dict[str, Any], path: Path) -> str | None:
    """Write the two-panel PNG; return why not when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install '.[plot]'): skipping the scaling plot"
    fig, (tps, p95) = plt.subplots(1, 2, figsize=(8, 3.5), dpi=100)
    for kind, style in (("normal", "-"), ("long", "--")):
        for engine, color, label in (
            ("seqbot", "tab:blue", "seqbot int8"),
            ("ctranslate2", "tab:orange", f"CTranslate2 int8 ({scaling['ct2_policy']})"),
        ):
            points = scaling[kind][engine]["points"]
            xs = [int(c) for c in points]
            name = f"{label}, {'long sources' if kind == 'long' else 'chat'}"
            tps.plot(
                xs,
                [p["tokens_per_second"] for p in points.values()],
                style,
                color=color,
                marker="o",
                label=name,
            )
            p95.plot(
                xs, [p["p95_latency_s"] for p in points.values()], style, color=color, marker="o"
            )
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    chats = sorted({int(c) for k in ("normal", "long") for c in scaling[k]["seqbot"]["points"]})
    for ax, title in ((tps, "useful tokens/s"), (p95, "p95 latency, s")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(chats, [str(c) for c in chats])
        ax.minorticks_off()
        ax.set_xlabel("concurrent chats (closed loop)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    p95.set_yscale("log")
    p95.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    p95.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    p95.yaxis.set_minor_formatter(NullFormatter())
    tps.legend(fontsize=7, handlelength=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return None
