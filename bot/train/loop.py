"""The training loop: teacher forcing, validation, the best model, checkpoints and resume.

One loop for every :class:`~.recipe.Recipe` (the LSTM from scratch, a fine-tuned T5 /
Marian / BART). Layout of ``--out DIR``:

- the best model on validation, as the engine serves it, plus ``training.json`` (its
  metrics and the history);
- ``checkpoint/last.pt``: written after every epoch and on Ctrl-C (:mod:`.checkpoint`);
- ``tensorboard/`` (or ``--logdir``): scalars when ``tensorboard`` is installed.

Determinism: the model is initialised after ``torch.manual_seed(seed)`` and epoch ``e``
shuffles with a generator seeded ``seed + e``, so the same seed and data give the same
model on the same machine, and a resumed run skips the batches it had already seen.

``--minutes`` counts from the start of the run (data and tokenizer included); when it
runs out mid-epoch the run validates and saves once more, which comes on top.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import checkpoint, metrics
from .data import Pair, read_pairs, split_pairs
from .options import TrainError, TrainOptions
from .progress import Progress, open_writer
from .recipe import IGNORE, Batch, Example, Recipe, collate, encode_pair, encode_source
from .schedule import Schedule

#: Epochs when neither --epochs nor --minutes is given.
DEFAULT_EPOCHS = 10
CHECKPOINT = checkpoint.CHECKPOINT


@dataclass
class Run:
    """Everything a training run carries between epochs and into a checkpoint."""

    opts: TrainOptions
    recipe: Recipe
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    device: torch.device
    train: list[Example]
    val: list[Example]
    val_pairs: list[Pair]
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU (all its cores, torch's default)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: torch sees no CUDA device (this torch build or machine)")
    if name not in ("cpu", "cuda"):
        raise TrainError(f"--device {name!r}: choose auto, cpu or cuda")
    return torch.device(name)


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def batches(examples: list[Example], size: int, seed: int | None) -> list[list[Example]]:
    """Batches in a seeded random order (``seed=None``: file order, for validation)."""
    order = list(range(len(examples)))
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(examples), generator=generator).tolist()
    return [[examples[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


def _on(run: Run, group: list[Example]) -> Batch:
    return {k: v.to(run.device) for k, v in collate(group, run.recipe.pad_id).items()}


def batch_loss(recipe: Recipe, batch: Batch) -> tuple[torch.Tensor, int]:
    """The recipe's mean loss over real target tokens, and how many there were."""
    return recipe.loss(batch), int((batch["labels"] != IGNORE).sum())


def generate_texts(run: Run, texts: list[str]) -> list[str]:
    """Greedy outputs for ``texts`` (validation), decoded as the engine decodes them."""
    recipe = run.recipe
    examples = [(encode_source(recipe, text), [recipe.eos_id]) for text in texts]
    outputs: list[str] = []
    for group in batches(examples, run.opts.batch_size, seed=None):
        outputs += [recipe.tokenizer.decode(ids) for ids in recipe.generate(_on(run, group))]
    return outputs


@torch.no_grad()
def validate(run: Run) -> dict[str, float]:
    """Validation loss over all pairs; exact match and chrF over the first ``max_eval``."""
    model = run.recipe.model
    model.eval()
    total = tokens = 0.0
    for group in batches(run.val, run.opts.batch_size, seed=None):
        loss, count = batch_loss(run.recipe, _on(run, group))
        total += float(loss) * count
        tokens += count
    pairs = run.val_pairs[: run.opts.max_eval]
    hyps = generate_texts(run, [p.source for p in pairs])
    refs = [p.target for p in pairs]
    model.train()
    return {
        "val_loss": total / max(tokens, 1),
        "exact_match": metrics.exact_match(hyps, refs),
        "chrf": metrics.chrf(hyps, refs),
    }


def _pairs(opts: TrainOptions) -> tuple[list[Pair], list[Pair], list[str]]:
    """(train, validation, warnings) from ``--data`` and ``--val`` / ``--val-split``."""
    data = read_pairs(opts.data)
    warnings = [f"{opts.data}: {data.malformed_summary()}"] if data.malformed else []
    if opts.val is not None:
        val = read_pairs(opts.val)
        if val.malformed:
            warnings.append(f"{opts.val}: {val.malformed_summary()}")
        return data.pairs, val.pairs, warnings
    train, held_out = split_pairs(data.pairs, opts.val_split, opts.seed)
    return train, held_out, warnings


def build_recipe(opts: TrainOptions, train: list[Pair], device: torch.device) -> Recipe:
    """The LSTM trained from scratch, or the ``--base`` model to fine-tune."""
    if opts.base is None:
        from .scratch import ScratchRecipe

        return ScratchRecipe(opts, train, device)
    from .finetune import FinetuneRecipe

    return FinetuneRecipe(opts, device)


def prepare(opts: TrainOptions) -> tuple[Run, list[str]]:
    """Data, tokenizer, model and optimizer; from the checkpoint with ``resume``."""
    if not opts.resume and (opts.out / CHECKPOINT).is_file():
        raise TrainError(
            f"{opts.out} already holds a training run; continue it with --resume, "
            "or choose another --out (or delete it) to start over"
        )
    saved = checkpoint.load(opts) if opts.resume else None
    if saved is not None:
        opts = checkpoint.resumed_options(opts, saved)
    device = resolve_device(opts.device)
    train, val, warnings = _pairs(opts)
    recipe = build_recipe(opts, train, device)
    lr = opts.lr if opts.lr is not None else recipe.default_lr
    optimizer = torch.optim.AdamW(recipe.model.parameters(), lr=lr)
    schedule = Schedule(lr, opts.warmup_steps or 0)
    examples = [encode_pair(recipe, p.source, p.target) for p in train]
    val_ex = [encode_pair(recipe, p.source, p.target) for p in val]
    run = Run(opts, recipe, optimizer, schedule, device, examples, val_ex, val)
    if saved is not None:
        checkpoint.restore(run, saved)
    return run, warnings


def _budget_left(run: Run, deadline: float | None) -> bool:
    if run.opts.max_steps is not None and run.step >= run.opts.max_steps:
        return False
    return deadline is None or time.monotonic() < deadline


def _step(run: Run, group: list[Example]) -> tuple[float, int]:
    """One optimizer step on ``group``: (its loss, source + target tokens it saw)."""
    batch = _on(run, group)
    run.schedule.apply(run.optimizer, run.step)
    loss, tokens = batch_loss(run.recipe, batch)
    run.optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(run.recipe.model.parameters(), 1.0)
    run.optimizer.step()
    run.step += 1
    run.batch_in_epoch += 1
    return loss.item(), tokens + int(batch["mask"].sum())


def _train_epoch(run: Run, writer: Any, report: Any, deadline: float | None) -> bool:
    """Train the rest of the current epoch; False when the budget ran out before its end.

    With ``--eval-every N`` it also validates every N steps, so a long epoch keeps the
    best model and draws the curve at a finer grain.
    """
    opts = run.opts
    groups = batches(run.train, opts.batch_size, seed=opts.seed + run.epoch)
    bar = Progress(len(groups), run.epoch + 1, opts.progress, initial=run.batch_in_epoch)
    run.recipe.model.train()
    started, seen = time.monotonic(), 0
    try:
        for group in groups[run.batch_in_epoch :]:
            if not _budget_left(run, deadline):
                return False
            loss, tokens = _step(run, group)
            lr = run.optimizer.param_groups[0]["lr"]
            seen += tokens
            rate = seen / max(time.monotonic() - started, 1e-9)  # this epoch's average
            bar.update(loss, rate)
            writer.add_scalar("train/loss", loss, run.step)
            writer.add_scalar("train/tokens_per_s", rate, run.step)
            writer.add_scalar("train/lr", lr, run.step)
            every = opts.eval_every
            if every and run.step % every == 0 and run.batch_in_epoch < len(groups):
                _evaluate(run, writer, report, f"epoch {run.epoch + 1}, step {run.step}")
    finally:
        bar.close()
    run.epoch += 1
    run.batch_in_epoch = 0
    return True


def _evaluate(run: Run, writer: Any, report: Any, label: str) -> dict[str, float]:
    """Validate, log, keep the model if it is the best so far, write the resumable checkpoint."""
    scores = validate(run)
    for name, value in scores.items():
        writer.add_scalar(f"val/{name}", value, run.step)
    writer.flush()
    halved = run.schedule.observe(scores["val_loss"])
    scores = {"epoch": run.epoch, "batch_in_epoch": run.batch_in_epoch, "step": run.step, **scores}
    run.history.append(scores)
    key = [scores["exact_match"], -scores["val_loss"]]
    better = not run.best or key > run.best
    if better:
        run.best = key
        run.recipe.save(run.opts.out)
        summary = {
            "best": scores,
            "history": run.history,
            "seed": run.opts.seed,
            "base": run.opts.base,
            "max_len": run.recipe.max_len,
        }
        (run.opts.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    checkpoint.save(run)
    report(
        f"{label}: val loss {scores['val_loss']:.3g}, exact match "
        f"{scores['exact_match']:.1f}%, chrF {scores['chrf']:.1f}"
        + (" (best, saved)" if better else "")
        + (f"; learning rate now {run.schedule.lr(run.step):.2g}" if halved else "")
    )
    return scores


def train(opts: TrainOptions, report: Any = print) -> dict[str, Any]:
    """Run training to the epoch or time budget; Ctrl-C saves a checkpoint and re-raises.

    ``--epochs`` counts from the start of the run, also after ``--resume``: resuming a
    3-epoch run with ``--epochs 5`` trains 2 more. ``report`` receives one line per epoch.
    """
    deadline = None if opts.minutes is None else time.monotonic() + opts.minutes * 60
    run, warnings = prepare(opts)
    for line in warnings:
        report(f"warning: {line}")
    opts = run.opts
    report(
        f"training on {_describe(run.device)}: {len(run.train)} pairs, {len(run.val)} for validation"
    )
    epochs = opts.epochs or (DEFAULT_EPOCHS if opts.minutes is None else math.inf)
    writer, available = open_writer(opts.logdir or opts.out / "tensorboard")
    if not available:
        report(
            "note: tensorboard is not installed, no scalars are written (pip install '.[train]')"
        )
    try:
        while run.epoch < epochs and _budget_left(run, deadline):
            finished = _train_epoch(run, writer, report, deadline)
            if not run.history or run.history[-1]["step"] != run.step:
                label = f"epoch {run.epoch}" if finished else f"epoch {run.epoch + 1} (stopped)"
                _evaluate(run, writer, report, f"{label}, step {run.step}")
            if not finished:
                break
    except KeyboardInterrupt:
        path = checkpoint.save(run)
        report(f"interrupted: checkpoint saved to {path}; continue with --resume")
        raise
    finally:
        writer.close()
    return {"epochs": run.epoch, "steps": run.step, "history": run.history, "out": opts.out}
