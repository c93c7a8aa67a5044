"""``seqbot model ...``: fetch, inspect and try the model the bot uses.

``generate`` runs the same engine code path as the bot, so what it prints is what a chat
would get; it is the first thing to try when an answer looks wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.errors import UserError

from .config import EngineConfig
from .errors import EngineError

model_app = typer.Typer(help="Download, inspect and try the language model.", no_args_is_help=True)


def _settings() -> Any:
    from bot.settings import Settings

    return Settings()


def _friendly(fn: Callable[..., None]) -> Callable[..., None]:
    """One error line and exit code 1 instead of a traceback for expected failures."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except (UserError, EngineError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return run


@model_app.command()
@_friendly
def pull(name: Annotated[str, typer.Argument(help="Hub id, e.g. google/flan-t5-small")]) -> None:
    """Download a model into the cache (SEQBOT_MODEL_DIR or the Hugging Face default)."""
    from .download import pull

    typer.echo(str(pull(name, _settings().model_dir)))  # errors: one line (_friendly)


@model_app.command()
@_friendly
def info(
    name: Annotated[
        str | None, typer.Argument(help="Directory or hub id (default: SEQBOT_MODEL)")
    ] = None,
) -> None:
    """Show where a model is and what it is, and how this CPU would run it in int8."""
    from . import cpu, loader
    from .quant import int8_available
    from .tokenizer import model_max_length

    settings = _settings()
    name = name or settings.model
    directory = loader.resolve(name, settings.model_dir)
    cfg = loader.read_config(directory)
    weights = sorted(p for p in directory.iterdir() if p.suffix in {".safetensors", ".bin"})
    rows = {
        "model": name,
        "directory": str(directory),
        "model_type": cfg.get("model_type"),
        "supported": cfg.get("model_type") in loader.FAMILIES,
        **_shape(cfg),
        "vocab_size": cfg.get("vocab_size"),
        "max_source_tokens": model_max_length(directory)
        or cfg.get("max_position_embeddings")
        or cfg.get("max_source_positions"),
        "weights": ", ".join(f"{p.name} ({_size(p)})" for p in weights) or "none",
        "int8_available": int8_available(),
        **cpu.describe(settings.engine_int8_path),
    }
    for key, value in rows.items():
        typer.echo(f"{key:18} {value}")


@model_app.command()
@_friendly
def generate(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Inputs; one per line from stdin if omitted")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Directory or hub id")] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="An engine server (seqbot engine serve), e.g. http://HOST:8000/seqbot; "
            "default: SEQBOT_ENGINE_URL unless --model is given",
        ),
    ] = None,
    beams: Annotated[int, typer.Option("--beams", min=1)] = 1,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 64,
    int8: Annotated[
        bool | None, typer.Option("--int8/--fp32", help="Default: SEQBOT_ENGINE_INT8")
    ] = None,
) -> None:
    """Generate one output line per input, exactly as the bot would."""
    from .options import GenerationOptions

    settings = _settings()
    inputs = list(texts) if texts else [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not inputs:
        return
    options = GenerationOptions(max_new_tokens=max_new_tokens, num_beams=beams)
    url = url or (None if model else settings.engine_url)
    if url:
        if int8 is not None:
            raise UserError("--int8/--fp32 choose a local model's precision, not a server's")
        outputs = asyncio.run(_remote_outputs(url, model, settings, inputs, options))
    else:
        outputs = asyncio.run(
            _local_outputs(_local_engine(settings, model, int8, inputs), inputs, options)
        )
    for text in outputs:
        typer.echo(text.replace("\n", " "))


def _local_engine(settings: Any, model: str | None, int8: bool | None, inputs: list[str]) -> Any:
    """The model loaded here, the way the bot loads it (precision overridable)."""
    from .engine import Engine

    bot = EngineConfig.from_settings(settings)
    config = dataclasses.replace(
        bot,
        int8=bot.int8 if int8 is None else int8,
        max_queue=max(bot.max_queue, len(inputs)),  # every input is submitted at once
        timeout=None,  # a command the operator runs waits as long as it takes
    )
    return Engine.load(model or settings.model, config)


async def _local_outputs(engine: Any, inputs: list[str], options: Any) -> list[str]:
    try:
        return await _outputs(engine, inputs, options, len(inputs))
    finally:
        await engine.stop()


async def _remote_outputs(
    url: str, model: str | None, settings: Any, inputs: list[str], options: Any
) -> list[str]:
    """The same requests to an engine server; ``--model`` must name the model it runs."""
    from bot.serving.client import RemotePool

    # No time limit here either; the server's own SEQBOT_ENGINE_TIMEOUT_SECONDS still holds.
    pool = RemotePool(url, timeout=None, retries=settings.engine_retries)
    try:
        engine = await pool.get(model)
        queue = engine.stats().get("max_queue")
        at_once = queue if isinstance(queue, int) and queue > 0 else len(inputs)
        return await _outputs(engine, inputs, options, at_once)
    finally:
        await pool.close()


async def _outputs(engine: Any, inputs: list[str], options: Any, at_once: int) -> list[str]:
    """Output texts in input order, submitted ``at_once`` at a time (all: one batch)."""
    results: list[Any] = []
    for start in range(0, len(inputs), at_once):
        results.extend(await engine.generate_batch(inputs[start : start + at_once], options))
    return [r.text for r in results]


def _shape(cfg: dict[str, Any]) -> dict[str, Any]:
    """The size rows of ``info``: a Transformer's width and depth, or the LSTM's sizes.

    The LSTM family (``seqbot-lstm``, bot/engine/lstm.py) has no ``d_model``; its width is
    ``hidden_dim`` (and ``embed_dim``), and int8 does not apply to it (its layers are torch
    modules, served in float32), which the int8 rows below would not tell.
    """
    if cfg.get("model_type") == "seqbot-lstm":
        layers = cfg.get("num_layers", 1)
        return {
            "embed_dim": cfg.get("embed_dim"),
            "hidden_dim": cfg.get("hidden_dim"),
            "layers": f"{layers} (bidirectional encoder) + {layers} (decoder)",
            "attention": cfg.get("attention", "bahdanau"),
            "input_feeding": cfg.get("input_feeding", True),
            "precision": "float32 (int8 does not apply to this family)",
        }
    encoder = cfg.get("num_layers", cfg.get("encoder_layers"))
    decoder = cfg.get("num_decoder_layers") or cfg.get("decoder_layers") or cfg.get("num_layers")
    return {"d_model": cfg.get("d_model"), "layers": f"{encoder}+{decoder}"}


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
