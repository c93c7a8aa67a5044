"""``--arch lstm``: the seed's LSTM + attention model, trained from scratch.

A BPE tokenizer is trained on the pairs first (:mod:`.tokenizer`) and saved into the
output directory, then read back through the engine's :class:`JsonTokenizer`, which is
what serves the model later. The model is :class:`bot.engine.lstm.LSTMSeq2Seq`: training
runs its teacher-forcing ``forward``, serving its ``step``; both are the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from bot.engine.errors import EngineError
from bot.engine.tokenizer import JsonTokenizer

from .data import Pair
from .options import TrainError, TrainOptions
from .recipe import IGNORE, Batch, decoder_inputs
from .tokenizer import EOS_ID, PAD_ID, START_ID, load_tokenizer, save_tokenizer, train_tokenizer

ARCHS = ("lstm",)
DEFAULT_LR = 2e-3
DEFAULT_MAX_LEN = 64


def _lstm_classes() -> tuple[Any, Any]:
    try:
        from bot.engine.lstm import LSTMConfig, LSTMSeq2Seq
    except ImportError as exc:
        raise TrainError(f"the LSTM model (bot/engine/lstm.py) is not available ({exc})") from None
    return LSTMConfig, LSTMSeq2Seq


class ScratchRecipe:
    """An :class:`LSTMSeq2Seq` of the options' shape and the tokenizer trained for it."""

    pad_id, eos_id, default_lr = PAD_ID, EOS_ID, DEFAULT_LR

    def __init__(self, opts: TrainOptions, train: list[Pair], device: torch.device) -> None:
        if opts.arch not in ARCHS:
            raise TrainError(f"--arch {opts.arch!r} is not supported (choose: {', '.join(ARCHS)})")
        self.max_len = opts.max_len or DEFAULT_MAX_LEN
        opts.out.mkdir(parents=True, exist_ok=True)
        if not opts.resume:  # a resumed run keeps the tokenizer its model was built on
            texts = [p.source for p in train] + [p.target for p in train]
            save_tokenizer(train_tokenizer(texts, opts.vocab_size), opts.out)
        path = opts.out / "tokenizer.json"
        if not path.is_file():
            raise TrainError(f"{path}: missing; the checkpoint cannot be resumed without it")
        try:
            self.tokenizer = JsonTokenizer(path, EOS_ID)
        except EngineError as exc:
            raise TrainError(str(exc)) from None
        config_cls, model_cls = _lstm_classes()
        torch.manual_seed(opts.seed)
        config = config_cls(
            vocab_size=load_tokenizer(opts.out).get_vocab_size(),
            embed_dim=opts.embed_dim,
            hidden_dim=opts.hidden_dim,
            num_layers=opts.num_layers,
            attention=opts.attention,
            dropout=opts.dropout,
            pad_token_id=PAD_ID,
            eos_token_id=EOS_ID,
            decoder_start_token_id=START_ID,
        )
        self.model: nn.Module = model_cls(config).to(device)

    def loss(self, batch: Batch) -> torch.Tensor:
        labels = batch["labels"]
        inputs = decoder_inputs(labels, START_ID, PAD_ID)
        logits = self.model(batch["source"], batch["mask"], inputs)
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE
        )

    @torch.no_grad()
    def generate(self, batch: Batch) -> list[list[int]]:
        return self.model.greedy(batch["source"], batch["mask"], self.max_len)

    def save(self, out: Path) -> None:
        self.model.save(out)
