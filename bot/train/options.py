"""What one training run is asked to do: :class:`TrainOptions`, and its one error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class TrainError(Exception):
    """A training run that cannot start or continue; one line for the CLI."""


@dataclass
class TrainOptions:
    """The ``seqbot train`` options, with the defaults a short-text task trains well with.

    ``base`` chooses the recipe: None trains ``arch`` from scratch, a model name fine-tunes
    it. ``lr``, ``max_len`` and ``warmup_steps`` left at None take the recipe's defaults
    (fine-tuning wants a smaller learning rate and longer texts than the seed's LSTM).
    """

    data: Path
    out: Path
    arch: str = "lstm"
    base: str | None = None
    epochs: int | None = None
    minutes: float | None = None
    batch_size: int = 64
    lr: float | None = None
    warmup_steps: int | None = None
    val: Path | None = None
    val_split: float = 0.1
    logdir: Path | None = None
    seed: int = 0
    resume: bool = False
    device: str = "auto"
    #: Where hub ids for ``base`` resolve (SEQBOT_MODEL_DIR; None: the hub's default cache).
    cache_dir: str | None = None
    # The LSTM's shape (``--arch lstm`` only) and the tokenizer trained for it.
    embed_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 1
    attention: str = "bahdanau"
    dropout: float = 0.1
    vocab_size: int = 2000
    #: Tokens per source and per target, EOS included (longer texts are cut).
    max_len: int | None = None
    #: Also validate (and keep the best model) every this many steps; None: per epoch only.
    eval_every: int | None = None
    #: Validation pairs decoded for exact match / chrF each epoch (greedy is the slow part).
    max_eval: int = 1000
    #: Stop after this many optimizer steps (tests; None = no limit).
    max_steps: int | None = None
    progress: bool = True

    #: Fields a resumed run takes from its checkpoint, so the model it rebuilds is the same.
    FROM_CHECKPOINT = (
        "arch",
        "base",
        "embed_dim",
        "hidden_dim",
        "num_layers",
        "attention",
        "dropout",
        "vocab_size",
        "seed",
        "max_len",
    )
