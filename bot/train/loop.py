"""Teacher-forcing training of the LSTM family, with validation, checkpoints and resume.

Layout of ``--out DIR``:

- the best model on validation, as the engine serves it (``LSTMSeq2Seq.save``: config.json
  and weights) plus ``tokenizer.json`` and ``training.json`` (its metrics);
- ``checkpoint/last.pt``: model, optimizer, epoch, position in the epoch and RNG states,
  written after every epoch and on Ctrl-C, so ``--resume`` continues where it stopped;
- ``tensorboard/`` (or ``--logdir``): scalars when ``tensorboard`` is installed.

Determinism: the model is initialised after ``torch.manual_seed(seed)`` and epoch ``e``
shuffles with a generator seeded ``seed + e``, so the same seed and data give the same
model on the same machine, and a resumed run skips the batches it had already seen.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import metrics
from .data import Pair, read_pairs, split_pairs
from .progress import Progress, open_writer
from .tokenizer import EOS_ID, PAD_ID, START_ID, decode, encode, save_tokenizer, train_tokenizer

IGNORE = -100
CHECKPOINT = Path("checkpoint") / "last.pt"


class TrainError(Exception):
    """A training run that cannot start or continue; one line for the CLI."""


@dataclass
class TrainOptions:
    data: Path
    out: Path
    arch: str = "lstm"
    epochs: int | None = None
    minutes: float | None = None
    batch_size: int = 64
    lr: float = 2e-3
    val: Path | None = None
    val_split: float = 0.1
    logdir: Path | None = None
    seed: int = 0
    resume: bool = False
    # Model and data sizes (not on the CLI yet; sensible for short texts).
    embed_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 1
    attention: str = "bahdanau"
    dropout: float = 0.1
    vocab_size: int = 2000
    max_len: int = 64
    #: Validation pairs decoded for exact match / chrF each epoch (greedy is the slow part).
    max_eval: int = 1000
    #: Stop after this many optimizer steps (tests; None = no limit).
    max_steps: int | None = None
    progress: bool = True


Example = tuple[list[int], list[int]]


@dataclass
class Run:
    """Everything a training run carries between epochs and into a checkpoint."""

    opts: TrainOptions
    model: nn.Module
    optimizer: torch.optim.Optimizer
    tokenizer: Any
    train: list[Example]
    val: list[Example]
    val_pairs: list[Pair]
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)


def _lstm_classes() -> tuple[Any, Any]:
    try:
        from bot.engine.lstm import LSTMConfig, LSTMSeq2Seq
    except ImportError as exc:
        raise TrainError(f"the LSTM model (bot/engine/lstm.py) is not available ({exc})") from None
    return LSTMConfig, LSTMSeq2Seq


def source_mask(ids: torch.Tensor) -> torch.Tensor:
    """1 where a source token is real, 0 on padding (the mask the model's forward takes)."""
    return (ids != PAD_ID).long()


def collate(examples: list[Example]) -> dict[str, torch.Tensor]:
    """Padded source ids, decoder inputs (``<s>`` + target[:-1]) and labels (-100 on pads)."""
    rows = len(examples)
    src_len = max(len(s) for s, _ in examples)
    tgt_len = max(len(t) for _, t in examples)
    source = torch.full((rows, src_len), PAD_ID, dtype=torch.long)
    inputs = torch.full((rows, tgt_len), PAD_ID, dtype=torch.long)
    labels = torch.full((rows, tgt_len), IGNORE, dtype=torch.long)
    for i, (src, tgt) in enumerate(examples):
        source[i, : len(src)] = torch.tensor(src)
        inputs[i, : len(tgt)] = torch.tensor([START_ID, *tgt[:-1]])
        labels[i, : len(tgt)] = torch.tensor(tgt)
    return {"source": source, "inputs": inputs, "labels": labels}


def batches(examples: list[Example], size: int, seed: int | None) -> list[list[Example]]:
    """Batches in a seeded random order (``seed=None``: file order, for validation)."""
    order = list(range(len(examples)))
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(examples), generator=generator).tolist()
    return [[examples[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over real target tokens, and how many there were."""
    logits = model(batch["source"], source_mask(batch["source"]), batch["inputs"])
    loss = nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)), batch["labels"].reshape(-1), ignore_index=IGNORE
    )
    return loss, int((batch["labels"] != IGNORE).sum())


@torch.no_grad()
def greedy(model: nn.Module, source: torch.Tensor, max_len: int) -> list[list[int]]:
    """Greedy token ids without EOS: the model's own ``greedy`` (one step per token) when it
    has one, else through the teacher-forcing ``forward`` re-run over the prefix per step
    (quadratic, but it needs nothing beyond ``forward``).
    """
    mask = source_mask(source)
    if hasattr(model, "greedy"):
        return model.greedy(source, mask, max_len)
    rows = source.size(0)
    out = torch.full((rows, 1), START_ID, dtype=torch.long)
    done = torch.zeros(rows, dtype=torch.bool)
    for _ in range(max_len):
        following = model(source, mask, out)[:, -1].argmax(-1)
        following = following.masked_fill(done, PAD_ID)
        out = torch.cat([out, following[:, None]], dim=1)
        done |= following == EOS_ID
        if bool(done.all()):
            break
    result = []
    for row in out[:, 1:].tolist():
        result.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return result


def translate(model: nn.Module, tok: Any, texts: list[str], max_len: int, size: int) -> list[str]:
    """Greedy outputs for ``texts`` in batches (validation and ``seqbot train eval``)."""
    was_training = model.training
    model.eval()
    outputs: list[str] = []
    for k in range(0, len(texts), size):
        ids = [encode(tok, t, max_len) for t in texts[k : k + size]]
        source = collate([(s, [EOS_ID]) for s in ids])["source"]
        outputs += [decode(tok, row) for row in greedy(model, source, max_len)]
    model.train(was_training)
    return outputs


@torch.no_grad()
def validate(run: Run) -> dict[str, float]:
    """Validation loss over all pairs; exact match and chrF over the first ``max_eval``."""
    model, opts = run.model, run.opts
    model.eval()
    total = tokens = 0.0
    for group in batches(run.val, opts.batch_size, seed=None):
        loss, count = batch_loss(model, collate(group))
        total += float(loss) * count
        tokens += count
    pairs = run.val_pairs[: opts.max_eval]
    hyps = translate(model, run.tokenizer, [p.source for p in pairs], opts.max_len, opts.batch_size)
    refs = [p.target for p in pairs]
    model.train()
    return {
        "val_loss": total / max(tokens, 1),
        "exact_match": metrics.exact_match(hyps, refs),
        "chrf": metrics.chrf(hyps, refs),
    }


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def save_checkpoint(run: Run) -> Path:
    """Everything ``--resume`` needs; written to a temp file first so Ctrl-C cannot corrupt it."""
    path = run.opts.out / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "epoch": run.epoch,
        "batch_in_epoch": run.batch_in_epoch,
        "step": run.step,
        "best": run.best,
        "history": run.history,
        "rng": _rng_state(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(run.opts).items()},
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)
    return path


def _load_checkpoint(opts: TrainOptions) -> dict[str, Any]:
    path = opts.out / CHECKPOINT
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume (train without --resume first)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise TrainError(f"{path}: cannot read checkpoint ({str(exc)[:200]})") from None


def _model_options(opts: TrainOptions, saved: dict[str, Any] | None) -> TrainOptions:
    """On resume the model's shape and seed come from the checkpoint, budgets from the CLI."""
    if saved is None:
        return opts
    kept = ("embed_dim", "hidden_dim", "num_layers", "attention", "dropout", "vocab_size")
    changes = {k: saved["options"][k] for k in (*kept, "seed", "max_len")}
    return TrainOptions(**{**asdict(opts), **changes})


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


def _tokenizer(opts: TrainOptions, train: list[Pair]) -> Any:
    """Trained once per output directory; a resumed run reuses the saved one."""
    from .tokenizer import load_tokenizer

    if opts.resume:
        return load_tokenizer(opts.out)
    texts = [p.source for p in train] + [p.target for p in train]
    tok = train_tokenizer(texts, opts.vocab_size)
    opts.out.mkdir(parents=True, exist_ok=True)
    save_tokenizer(tok, opts.out)
    return tok


def prepare(opts: TrainOptions) -> tuple[Run, list[str]]:
    """Data, tokenizer, model and optimizer; from the checkpoint with ``resume``."""
    if opts.arch != "lstm":
        raise TrainError(f"--arch {opts.arch!r} is not supported (only 'lstm')")
    saved = _load_checkpoint(opts) if opts.resume else None
    opts = _model_options(opts, saved)
    train, val, warnings = _pairs(opts)
    config_cls, model_cls = _lstm_classes()
    tok = _tokenizer(opts, train)
    torch.manual_seed(opts.seed)
    config = config_cls(
        vocab_size=tok.get_vocab_size(),
        embed_dim=opts.embed_dim,
        hidden_dim=opts.hidden_dim,
        num_layers=opts.num_layers,
        attention=opts.attention,
        dropout=opts.dropout,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        decoder_start_token_id=START_ID,
    )
    model = model_cls(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr)
    examples = [
        (encode(tok, p.source, opts.max_len), encode(tok, p.target, opts.max_len)) for p in train
    ]
    val_ex = [
        (encode(tok, p.source, opts.max_len), encode(tok, p.target, opts.max_len)) for p in val
    ]
    run = Run(opts, model, optimizer, tok, examples, val_ex, val)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        run.epoch, run.batch_in_epoch, run.step = (
            saved["epoch"],
            saved["batch_in_epoch"],
            saved["step"],
        )
        run.best, run.history = saved["best"], saved["history"]
        _set_rng_state(saved["rng"])
    return run, warnings


def _budget_left(run: Run, deadline: float | None) -> bool:
    if run.opts.max_steps is not None and run.step >= run.opts.max_steps:
        return False
    return deadline is None or time.monotonic() < deadline


def _train_epoch(run: Run, writer: Any, deadline: float | None) -> bool:
    """Train the rest of the current epoch; False when the budget ran out before its end."""
    opts = run.opts
    groups = batches(run.train, opts.batch_size, seed=opts.seed + run.epoch)
    bar = Progress(len(groups), run.epoch + 1, opts.progress, initial=run.batch_in_epoch)
    run.model.train()
    try:
        for group in groups[run.batch_in_epoch :]:
            if not _budget_left(run, deadline):
                return False
            started = time.monotonic()
            batch = collate(group)
            loss, tokens = batch_loss(run.model, batch)
            run.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
            run.optimizer.step()
            run.step += 1
            run.batch_in_epoch += 1
            seen = tokens + int((batch["source"] != PAD_ID).sum())
            rate = seen / max(time.monotonic() - started, 1e-9)
            bar.update(loss.item(), rate)
            writer.add_scalar("train/loss", loss.item(), run.step)
            writer.add_scalar("train/tokens_per_s", rate, run.step)
            writer.add_scalar("train/lr", run.optimizer.param_groups[0]["lr"], run.step)
    finally:
        bar.close()
    run.epoch += 1
    run.batch_in_epoch = 0
    return True


def _end_of_epoch(run: Run, writer: Any, report: Any) -> dict[str, float]:
    """Validate, log, keep the model if it is the best so far, write the resumable checkpoint."""
    scores = validate(run)
    for name, value in scores.items():
        writer.add_scalar(f"val/{name}", value, run.step)
    writer.flush()
    scores = {"epoch": run.epoch, "step": run.step, **scores}
    run.history.append(scores)
    key = [scores["exact_match"], -scores["val_loss"]]
    better = not run.best or key > run.best
    if better:
        run.best = key
        run.model.save(run.opts.out)
        summary = {"best": scores, "history": run.history, "seed": run.opts.seed}
        (run.opts.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    save_checkpoint(run)
    report(
        f"epoch {run.epoch}: val loss {scores['val_loss']:.4f}, exact match "
        f"{scores['exact_match']:.1f}%, chrF {scores['chrf']:.1f}"
        + (" (best, saved)" if better else "")
    )
    return scores


def train(opts: TrainOptions, report: Any = print) -> dict[str, Any]:
    """Run training to the epoch or time budget; Ctrl-C saves a checkpoint and re-raises.

    ``--epochs`` counts from the start of the run, also after ``--resume``: resuming a
    3-epoch run with ``--epochs 5`` trains 2 more. ``report`` receives one line per epoch.
    """
    run, warnings = prepare(opts)
    for line in warnings:
        report(f"warning: {line}")
    opts = run.opts
    epochs = opts.epochs if opts.epochs is not None else (10 if opts.minutes is None else math.inf)
    deadline = None if opts.minutes is None else time.monotonic() + opts.minutes * 60
    writer, available = open_writer(opts.logdir or opts.out / "tensorboard")
    if not available:
        report(
            "note: tensorboard is not installed, no scalars are written (pip install '.[train]')"
        )
    finished = True
    try:
        while run.epoch < epochs and _budget_left(run, deadline):
            finished = _train_epoch(run, writer, deadline)
            _end_of_epoch(run, writer, report)
            if not finished:
                break
    except KeyboardInterrupt:
        path = save_checkpoint(run)
        report(f"interrupted: checkpoint saved to {path}; continue with --resume")
        raise
    finally:
        writer.close()
    return {"epochs": run.epoch, "steps": run.step, "history": run.history, "out": opts.out}
