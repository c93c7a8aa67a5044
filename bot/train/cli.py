"""``seqbot train``: train a model on source/target pairs; ``seqbot train eval`` scores one.

torch is imported inside the commands, so registering this sub-app keeps ``seqbot --help``
fast. Expected failures (bad data, no checkpoint to resume, ...) end in one ``error:`` line
and exit code 1; Ctrl-C saves a checkpoint and exits with 130.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

train_app = typer.Typer(
    help="Train a Seq2Seq model on your own pairs (the engine serves the result).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)

#: Samples ``seqbot train eval`` prints.
_SAMPLES = 5


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _check_options(
    data: Path | None, out: Path | None, base: str | None, opts: dict[str, Any]
) -> None:
    """One-line errors for option combinations before anything heavy is imported."""
    if data is None or out is None:
        raise _fail("--data FILE and --out DIR are required (see seqbot train --help)")
    if base is not None:
        raise _fail("--base (fine-tuning T5/BART/Marian) is not implemented yet; use --arch lstm")
    if opts["val"] is not None and opts["val_split_given"]:
        raise _fail("use either --val FILE or --val-split F, not both")
    for name in ("epochs", "batch_size"):
        if opts[name] is not None and opts[name] < 1:
            raise _fail(f"--{name.replace('_', '-')} must be at least 1")
    if opts["minutes"] is not None and opts["minutes"] <= 0:
        raise _fail("--minutes must be positive")
    if opts["lr"] <= 0:
        raise _fail("--lr must be positive")


@train_app.callback()
def train(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Pairs: .jsonl {source,target}, .csv or .tsv")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for the model and checkpoints")
    ] = None,
    arch: Annotated[str, typer.Option(help="Model to train from scratch: lstm")] = "lstm",
    base: Annotated[str | None, typer.Option(help="Fine-tune this checkpoint (not yet)")] = None,
    epochs: Annotated[int | None, typer.Option(help="Total epochs (default 10)")] = None,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes")] = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per batch")] = 64,
    lr: Annotated[float, typer.Option(help="AdamW learning rate")] = 2e-3,
    val: Annotated[Path | None, typer.Option(help="Validation pairs file")] = None,
    val_split: Annotated[
        float | None, typer.Option(help="Hold out this share (default 0.1)")
    ] = None,
    logdir: Annotated[
        Path | None, typer.Option(help="TensorBoard dir (default OUT/tensorboard)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed and data, same model")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint/last.pt")] = False,
) -> None:
    """Train a model: seqbot train --data pairs.jsonl --out models/mine [--minutes 10]."""
    if ctx.invoked_subcommand is not None:
        return
    if data is None and out is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    options = {"val": val, "val_split_given": val_split is not None, "epochs": epochs}
    options |= {"batch_size": batch_size, "minutes": minutes, "lr": lr}
    _check_options(data, out, base, options)
    assert data is not None and out is not None  # _check_options
    from .data import DataError
    from .loop import TrainError, TrainOptions
    from .loop import train as run_training

    opts = TrainOptions(data=data, out=out, arch=arch, epochs=epochs, minutes=minutes)
    opts.batch_size, opts.lr, opts.val, opts.logdir = batch_size, lr, val, logdir
    opts.val_split, opts.seed, opts.resume = val_split or 0.1, seed, resume
    try:
        result = run_training(opts, report=typer.echo)
    except (DataError, TrainError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    typer.echo(f"done: {result['epochs']} epoch(s), {result['steps']} steps; model in {out}")


@train_app.command("eval")
def evaluate(
    model: Annotated[Path, typer.Option(help="A directory written by seqbot train")],
    data: Annotated[Path, typer.Option(help="Pairs to score (.jsonl, .csv, .tsv)")],
    batch_size: Annotated[int, typer.Option(help="Pairs per batch")] = 64,
) -> None:
    """Exact match, chrF and BLEU (with sacrebleu) of a trained model, and a few samples."""
    from .data import DataError, read_pairs

    try:
        pairs = read_pairs(data).pairs
        hyps = _generate(model, [p.source for p in pairs], batch_size)
    except DataError as exc:
        raise _fail(str(exc)) from None
    from . import metrics

    refs = [p.target for p in pairs]
    typer.echo(f"pairs        {len(pairs)}")
    typer.echo(f"exact match  {metrics.exact_match(hyps, refs):.1f}%")
    typer.echo(f"chrF         {metrics.chrf(hyps, refs):.1f}")
    score = metrics.bleu(hyps, refs)
    typer.echo(
        "BLEU         " + (f"{score:.1f}" if score is not None else "- (pip install sacrebleu)")
    )
    for pair, hyp in list(zip(pairs, hyps, strict=True))[:_SAMPLES]:
        mark = "=" if hyp.strip() == pair.target.strip() else "≠"
        typer.echo(f"  {pair.source!r} -> {hyp!r} {mark} {pair.target!r}")


def _generate(directory: Path, sources: list[str], batch_size: int) -> list[str]:
    """Greedy outputs of a trained LSTM model (the trainer's decoder, not the engine's yet)."""
    import json

    config = directory / "config.json"
    try:
        kind = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError) as exc:
        raise _fail(f"{config}: cannot read ({exc})") from None
    if kind != "seqbot-lstm":
        raise _fail(
            f"{directory}: model_type {kind!r}; train eval supports seqbot-lstm models only"
        )
    from .loop import TrainError, _lstm_classes, translate
    from .tokenizer import load_tokenizer

    try:
        _, model_cls = _lstm_classes()
        model = model_cls.load(directory)
        tok = load_tokenizer(directory)
    except TrainError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(f"{directory}: cannot load the model ({str(exc)[:200]})") from None
    return translate(model, tok, sources, max_len=64, size=batch_size)
