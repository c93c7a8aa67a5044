"""Issue 15's measurement: ``seqbot train --arch lstm`` from scratch on a synthetic task.

Trains for ``--minutes`` (default 10) on generated pairs and scores the model on pairs that
are truly held out: for dates, whole years the training file never contains (so no test
date is in training under another spelling); for numbers, values picked by a hash
(``bot.train.synthetic.number_split``). The validation file the trainer picks its best
checkpoint by and draws the curve from is held out too, and disjoint from the test file,
so the test is never looked at before ``seqbot train eval``.

Held-out years interleave with the training years instead of only following them: the
model has to compose unseen years from digits it has seen in those places (1957 from
195x and xxx7 years), plus one block (2040-2044) where the decade is seen only in
2045-2049.

    .venv/bin/python benchmarks/train_dates.py [--minutes 10] [--task dates|numbers]

Prints a table; writes benchmarks/results/train_dates.json (``--json``) and the learning
curve from the TensorBoard logs to docs/images/training-curve.png (``--png``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.train import synthetic  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "train_dates.json"
PNG = ROOT / "docs" / "images" / "training-curve.png"
ALL_YEARS = range(1950, 2050)
TEST_YEARS = (1957, 1963, 1978, 1984, 1999, 2006, 2012, 2025, 2031, *range(2040, 2045))
VAL_YEARS = (1961, 1975, 1992, 2003, 2018, 2036)
TRAIN_YEARS = tuple(y for y in ALL_YEARS if y not in TEST_YEARS + VAL_YEARS)
#: The trainer decodes the first 1000 validation pairs each epoch.
N_VAL = 1000
TARGET_EXACT_MATCH = 95.0
SCALARS = ("train/loss", "val/val_loss", "val/exact_match", "val/chrf")
_DONE = re.compile(r"done: (\d+) epoch\(s\), (\d+) steps")
_METRIC = re.compile(r"^(exact match|chrF|BLEU)\s+([0-9.]+)", re.MULTILINE)


def write_jsonl(path: Path, pairs: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    return path


def make_data(task: str, n: int, n_test: int, work: Path) -> dict[str, Any]:
    """Train, validation and test files whose dates (years) or numbers never overlap."""
    if task == "dates":
        train = synthetic.make_pairs(n, seed=0, years=TRAIN_YEARS)
        val = synthetic.make_pairs(N_VAL, seed=1, years=VAL_YEARS)
        test = synthetic.make_pairs(n_test, seed=2, years=TEST_YEARS)
        split = {
            "train_years": synthetic.format_years(TRAIN_YEARS),
            "val_years": synthetic.format_years(VAL_YEARS),
            "test_years": synthetic.format_years(TEST_YEARS),
        }
    else:
        train = synthetic.make_number_pairs(n, seed=0, split="train")
        val = synthetic.make_number_pairs(N_VAL, seed=1, split="val")
        test = synthetic.make_number_pairs(n_test, seed=2, split="test")
        split = {"by": "bot.train.synthetic.number_split (hash of the value)"}
    return {
        "train": write_jsonl(work / "train.jsonl", train),
        "val": write_jsonl(work / "val.jsonl", val),
        "test": write_jsonl(work / "test.jsonl", test),
        "split": split,
        "sizes": {"train": len(train), "val": len(val), "test": len(test)},
    }


def seqbot(*args: str) -> list[str]:
    """The ``seqbot`` command of this interpreter (``python -m bot`` is seqbot)."""
    return [sys.executable, "-m", "bot", *args]


def run_train(
    data: dict[str, Any], model: Path, minutes: float, eval_every: int | None
) -> dict[str, Any]:
    """One ``seqbot train`` run; its report lines are echoed, progress goes to stderr."""
    command = seqbot("train", "--arch", "lstm", "--data", str(data["train"]))
    command += ["--val", str(data["val"]), "--out", str(model)]
    command += ["--minutes", f"{minutes:g}", "--seed", "0"]
    if eval_every:  # validation time counts against the budget, like every other second
        command += ["--eval-every", str(eval_every)]
    print("$ " + " ".join(command[2:]).replace("bot ", "seqbot ", 1), file=sys.stderr)
    start = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    wall = time.monotonic() - start
    print(done.stdout, end="", file=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"seqbot train exited with {done.returncode}")
    return {"command": command[2:], "wall_s": wall, "output": done.stdout.splitlines()}


def _done_line(lines: list[str]) -> dict[str, int]:
    """Epochs and steps from seqbot train's last line ``done: 2 epoch(s), 626 steps; ...``."""
    for line in reversed(lines):
        found = _DONE.match(line)
        if found:
            return {"epochs": int(found[1]), "steps": int(found[2])}
    return {}


def run_eval(model: Path, test: Path) -> dict[str, Any]:
    """``seqbot train eval`` on the held-out file: exact match (%), chrF, BLEU."""
    done = subprocess.run(
        seqbot("train", "eval", "--model", str(model), "--data", str(test)),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"seqbot train eval exited with {done.returncode}")
    found = {name: float(value) for name, value in _METRIC.findall(done.stdout)}
    if "exact match" not in found:
        raise SystemExit(f"no exact match line in seqbot train eval's output:\n{done.stdout}")
    return {
        "exact_match": found["exact match"],
        "chrf": found.get("chrF"),
        "bleu": found.get("BLEU"),
        "output": done.stdout.splitlines(),
    }


def read_scalars(logdir: Path) -> dict[str, list[dict[str, float]]]:
    """Every logged point of :data:`SCALARS` (no TensorBoard sampling: size 0 keeps all)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags().get("scalars", []))
    return {
        tag: [{"wall": e.wall_time, "step": e.step, "value": e.value} for e in events.Scalars(tag)]
        for tag in SCALARS
        if tag in tags
    }


def _smooth(values: list[float]) -> list[float]:
    """A debiased moving average (as TensorBoard draws), so per-batch losses read as a curve.

    The weight grows with the number of points: a short run keeps its few points as they
    are, a 10-minute run averages over about the last 50 batches.
    """
    weight = min(max(1 - 20 / max(len(values), 1), 0.0), 0.98)
    out, last = [], 0.0
    for count, value in enumerate(values, start=1):
        last = weight * last + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


def plot(scalars: dict[str, list[dict[str, float]]], png: Path, title: str) -> str | None:
    """Loss and held-out exact match against minutes; why not, when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install '.[plot]'): no learning-curve PNG"
    if not scalars.get("train/loss"):
        return "no train/loss scalars in the TensorBoard logs: no learning-curve PNG"
    start = min(p["wall"] for points in scalars.values() for p in points)

    def minutes(tag: str) -> list[float]:
        return [(p["wall"] - start) / 60 for p in scalars.get(tag, [])]

    def values(tag: str) -> list[float]:
        return [p["value"] for p in scalars.get(tag, [])]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    left.plot(minutes("train/loss"), values("train/loss"), color="0.8", lw=0.6)
    left.plot(minutes("train/loss"), _smooth(values("train/loss")), label="train loss (EMA)")
    left.plot(minutes("val/val_loss"), values("val/val_loss"), "o-", label="held-out loss")
    left.set(yscale="log", xlabel="minutes", ylabel="cross-entropy (nats/token)")
    left.legend()
    right.plot(minutes("val/exact_match"), values("val/exact_match"), "o-", color="C2")
    right.axhline(TARGET_EXACT_MATCH, color="0.5", ls="--", lw=1)
    right.set(xlabel="minutes", ylabel="held-out exact match (%)", ylim=(0, 101))
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return None


def machine() -> dict[str, Any]:
    """CPU model and the flags that matter, and how many cores this process may use."""
    from bot.engine.cpu import cpu_model_and_flags

    model, flags = cpu_model_and_flags()
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni") if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model or "unknown", "cpu_flags": " ".join(shown) or "none", "cores": cores}


def print_table(report: dict[str, Any]) -> None:
    m, ev, tr = report["machine"], report["eval"], report["train"]
    print(f"\nseqbot train --arch lstm, {report['task']}, {m['cpu']} ({m['cpu_flags']}), ", end="")
    print(f"{m['cores']} cores")
    print("| budget | wall time | epochs | steps | held-out pairs | exact match | chrF | BLEU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    cells = [f"{report['minutes']:g} min", f"{tr['wall_s'] / 60:.1f} min"]
    cells += [str(tr.get("epochs", "?")), str(tr.get("steps", "?"))]
    cells += [str(report["data"]["sizes"]["test"]), f"{ev['exact_match']:.1f}%"]
    cells += [f"{ev['chrf']:.1f}", "-" if ev["bleu"] is None else f"{ev['bleu']:.1f}"]
    print("| " + " | ".join(cells) + " |")
    verdict = "met" if report["target_met"] else "NOT met"
    print(f"target >= {TARGET_EXACT_MATCH:g}% exact match on held-out pairs: {verdict}")


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = make_data(args.task, args.n, args.n_test, work)
    model = work / "model"
    shutil.rmtree(model, ignore_errors=True)  # a --keep directory reused: measure a new run
    trained = run_train(data, model, args.minutes, args.eval_every)
    summary = json.loads((model / "training.json").read_text())
    trained |= _done_line(trained["output"])
    evaluated = run_eval(model, data["test"])
    scalars = read_scalars(model / "tensorboard")
    title = (
        f"seqbot train --arch lstm, {args.task}, {args.n} pairs, --minutes {args.minutes:g}: "
        f"{evaluated['exact_match']:.1f}% exact match on {data['sizes']['test']} held-out pairs"
    )
    skipped = plot(scalars, args.png, title)
    print(skipped or f"wrote {args.png}", file=sys.stderr)
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
    return {
        "task": args.task,
        "minutes": args.minutes,
        "data": data,
        "train": trained,
        "training_json": summary,
        "eval": evaluated,
        "target_met": evaluated["exact_match"] >= TARGET_EXACT_MATCH,
        "scalars": scalars,
        "png": None if skipped else str(args.png),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="seqbot train --minutes")
    parser.add_argument("--task", choices=("dates", "numbers"), default="dates")
    parser.add_argument("--n", type=int, default=20000, help="training pairs")
    parser.add_argument(
        "--eval-every", type=int, default=100, help="seqbot train --eval-every (0: per epoch)"
    )
    parser.add_argument("--n-test", type=int, default=2000, help="held-out test pairs")
    parser.add_argument("--keep", type=Path, help="keep data and model in this directory")
    parser.add_argument("--png", type=Path, default=PNG, help="learning-curve PNG")
    parser.add_argument("--json", type=Path, default=RESULTS, help="JSON report")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = measure(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="seqbot-train-") as tmp:
            report = measure(args, Path(tmp))
    report["machine"] = machine()
    report["args"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
