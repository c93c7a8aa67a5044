"""The resumable checkpoint: ``OUT/checkpoint/last.pt``.

It holds the model's and optimizer's state, the learning-rate schedule, where the run is
(epoch, batch in the epoch, step), the best score and history so far, the RNG states,
and the options the model was built from, so ``--resume`` rebuilds the same model and
continues at the next unseen batch. It is written to a temporary file and renamed, so a
Ctrl-C (or a crash) while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .options import TrainError, TrainOptions

if TYPE_CHECKING:
    from .loop import Run

CHECKPOINT = Path("checkpoint") / "last.pt"


def save(run: Run) -> Path:
    path = run.opts.out / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": run.recipe.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "schedule": run.schedule.state_dict(),
        "epoch": run.epoch,
        "batch_in_epoch": run.batch_in_epoch,
        "step": run.step,
        "best": run.best,
        "history": run.history,
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(run.opts).items()},
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)
    return path


def load(opts: TrainOptions) -> dict[str, Any]:
    path = opts.out / CHECKPOINT
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume (train without --resume first)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise TrainError(f"{path}: cannot read checkpoint ({str(exc)[:200]})") from None


def resumed_options(opts: TrainOptions, saved: dict[str, Any]) -> TrainOptions:
    """The model's shape, base and seed from the checkpoint; budgets and paths from the CLI."""
    kept = {k: saved["options"][k] for k in TrainOptions.FROM_CHECKPOINT if k in saved["options"]}
    return replace(opts, **kept)


def restore(run: Run, saved: dict[str, Any]) -> None:
    """Put a loaded checkpoint's state into a freshly built run."""
    try:
        run.recipe.model.load_state_dict(saved["model"])
        run.optimizer.load_state_dict(saved["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise TrainError(
            f"{run.opts.out / CHECKPOINT}: does not fit the model rebuilt from it "
            f"({str(exc).splitlines()[0][:160]}); start over in another --out"
        ) from None
    if "schedule" in saved:
        run.schedule.load_state_dict(saved["schedule"])
    run.epoch, run.batch_in_epoch = saved["epoch"], saved["batch_in_epoch"]
    run.step, run.best, run.history = saved["step"], saved["best"], saved["history"]
    torch.set_rng_state(saved["rng"]["torch"])
    random.setstate(saved["rng"]["python"])
