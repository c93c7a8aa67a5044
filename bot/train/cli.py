"""``seqbot train``: train a model on source/target pairs; ``seqbot train eval`` scores one.

torch is imported inside the commands, so registering this sub-app keeps ``seqbot --help``
fast. Expected failures (bad data, no checkpoint to resume, a base that is not here, ...)
end in one ``error:`` line and exit code 1; Ctrl-C saves a checkpoint and exits with 130.
"""

from __future__ import annotations

import asyncio
import json
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
#: Output tokens ``train eval`` allows when training.json does not say (a model from elsewhere).
_EVAL_MAX_TOKENS = 128
ATTENTIONS = ("bahdanau", "luong")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _check_options(given: dict[str, Any]) -> None:
    """One-line errors for option combinations before anything heavy is imported."""
    if given["data"] is None or given["out"] is None:
        raise _fail("--data FILE and --out DIR are required (see seqbot train --help)")
    if given["base"] is not None and given["arch"] is not None:
        raise _fail("use either --arch (train from scratch) or --base MODEL (fine-tune), not both")
    if given["val"] is not None and given["val_split"] is not None:
        raise _fail("use either --val FILE or --val-split F, not both")
    if given["val_split"] is not None and not 0 < given["val_split"] < 1:
        raise _fail("--val-split must be between 0 and 1")
    for name in (
        "epochs",
        "batch_size",
        "embed_dim",
        "hidden_dim",
        "layers",
        "max_len",
        "eval_every",
    ):
        if given[name] is not None and given[name] < 1:
            raise _fail(f"--{name.replace('_', '-')} must be at least 1")
    if given["vocab_size"] < 8:
        raise _fail("--vocab-size must be at least 8")
    for name in ("minutes", "lr"):
        if given[name] is not None and given[name] <= 0:
            raise _fail(f"--{name} must be positive")
    if given["warmup_steps"] is not None and given["warmup_steps"] < 0:
        raise _fail("--warmup-steps must not be negative")
    if not 0 <= given["dropout"] < 1:
        raise _fail("--dropout must be in [0, 1)")
    if given["attention"] not in ATTENTIONS:
        raise _fail(f"--attention must be one of: {', '.join(ATTENTIONS)}")
    if given["device"] not in ("auto", "cpu", "cuda"):
        raise _fail("--device must be auto, cpu or cuda")


@train_app.callback()
def train(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Pairs: .jsonl {source,target}, .csv or .tsv")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for the model and checkpoints")
    ] = None,
    arch: Annotated[str | None, typer.Option(help="Train from scratch: lstm (the default)")] = None,
    base: Annotated[
        str | None, typer.Option(help="Fine-tune this T5/Marian/BART directory or hub id")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Total epochs (default 10)")] = None,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes")] = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per batch")] = 64,
    lr: Annotated[
        float | None, typer.Option(help="AdamW learning rate (lstm 2e-3, --base 1e-4)")
    ] = None,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear learning-rate warmup steps (default 0)")
    ] = None,
    val: Annotated[Path | None, typer.Option(help="Validation pairs file")] = None,
    val_split: Annotated[
        float | None, typer.Option(help="Hold out this share (default 0.1)")
    ] = None,
    logdir: Annotated[
        Path | None, typer.Option(help="TensorBoard dir (default OUT/tensorboard)")
    ] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Also validate every N steps (default: per epoch)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed and data, same model")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint/last.pt")] = False,
    device: Annotated[str, typer.Option(help="auto (GPU if torch sees one), cpu, cuda")] = "auto",
    embed_dim: Annotated[int, typer.Option(help="lstm: embedding size")] = 128,
    hidden_dim: Annotated[int, typer.Option(help="lstm: hidden size")] = 256,
    layers: Annotated[int, typer.Option(help="lstm: encoder and decoder layers")] = 1,
    attention: Annotated[str, typer.Option(help="lstm: bahdanau or luong")] = "bahdanau",
    dropout: Annotated[float, typer.Option(help="lstm: dropout")] = 0.1,
    vocab_size: Annotated[int, typer.Option(help="lstm: tokenizer vocabulary")] = 2000,
    max_len: Annotated[
        int | None, typer.Option(help="Tokens per text, longer are cut (lstm 64, --base 128)")
    ] = None,
) -> None:
    """Train a model: seqbot train --data pairs.jsonl --out models/mine [--minutes 10]."""
    if ctx.invoked_subcommand is not None:
        return
    if data is None and out is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    given = dict(locals())
    _check_options(given)
    from .data import DataError
    from .loop import train as run_training
    from .options import TrainError

    opts = _options(given)
    try:
        result = run_training(opts, report=typer.echo)
    except (DataError, TrainError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    typer.echo(f"done: {result['epochs']} epoch(s), {result['steps']} steps; model in {out}")


#: CLI options that are TrainOptions fields of the same name.
_SAME_NAME = (
    "epochs", "minutes", "batch_size", "lr", "warmup_steps", "val", "logdir", "seed", "resume",
    "device", "embed_dim", "hidden_dim", "attention", "dropout", "vocab_size", "max_len",
    "eval_every",
)  # fmt: skip


def _options(given: dict[str, Any]) -> Any:
    """The command line as :class:`TrainOptions` (hub ids resolve in SEQBOT_MODEL_DIR)."""
    from .options import TrainOptions

    opts = TrainOptions(
        data=given["data"], out=given["out"], arch=given["arch"] or "lstm", base=given["base"]
    )
    for name in _SAME_NAME:
        setattr(opts, name, given[name])
    opts.num_layers, opts.val_split = given["layers"], given["val_split"] or 0.1
    opts.cache_dir = _model_dir()
    return opts


def _model_dir() -> str | None:
    """Where hub ids resolve: SEQBOT_MODEL_DIR, as for the bot's own models."""
    from bot.settings import Settings

    return Settings().model_dir


@train_app.command("eval")
def evaluate(
    model: Annotated[Path, typer.Option(help="A model directory (seqbot train writes one)")],
    data: Annotated[Path, typer.Option(help="Pairs to score (.jsonl, .csv, .tsv)")],
    int8: Annotated[
        bool | None, typer.Option("--int8/--fp32", help="Default: SEQBOT_ENGINE_INT8")
    ] = None,
) -> None:
    """Exact match, chrF and BLEU (with sacrebleu) of the model as the engine serves it."""
    from .data import DataError, read_pairs

    try:
        pairs = read_pairs(data).pairs
    except DataError as exc:
        raise _fail(str(exc)) from None
    hyps = _served_outputs(model, [p.source for p in pairs], int8)
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


def _max_tokens(directory: Path) -> int:
    """The output length the model was trained to (training.json), else a generous default."""
    try:
        value = json.loads((directory / "training.json").read_text(encoding="utf-8"))["max_len"]
    except (OSError, ValueError, KeyError, TypeError):
        return _EVAL_MAX_TOKENS
    return int(value) if isinstance(value, int) and value > 0 else _EVAL_MAX_TOKENS


def _served_outputs(directory: Path, sources: list[str], int8: bool | None) -> list[str]:
    """Greedy outputs from the engine (the bot's code path), one batch of every source."""
    import dataclasses

    from bot.engine.config import EngineConfig
    from bot.engine.errors import EngineError
    from bot.errors import UserError
    from bot.settings import Settings

    settings = Settings()
    config = EngineConfig.from_settings(settings)
    config = dataclasses.replace(
        config,
        int8=config.int8 if int8 is None else int8,
        max_queue=max(config.max_queue, len(sources)),
        timeout=None,
    )
    try:
        return asyncio.run(_outputs(directory, sources, config))
    except (EngineError, UserError) as exc:
        raise _fail(str(exc)) from None


async def _outputs(directory: Path, sources: list[str], config: Any) -> list[str]:
    from bot.engine.engine import Engine
    from bot.engine.options import GenerationOptions

    engine = await asyncio.to_thread(Engine.load, str(directory), config)
    options = GenerationOptions(max_new_tokens=_max_tokens(directory), num_beams=1)
    try:
        results = await engine.generate_batch(sources, options)
    finally:
        await engine.stop()
    return [r.text for r in results]
