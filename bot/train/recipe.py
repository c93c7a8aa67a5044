"""What the training loop needs from a model: a :class:`Recipe`.

The loop (batches, validation, checkpoints, TensorBoard) is the same for the seed's LSTM
trained from scratch (:mod:`.scratch`) and for a pretrained T5 / Marian / BART fine-tuned
(:mod:`.finetune`). A recipe owns what differs: how texts become ids, how a batch gives
a loss, how the model generates for validation, and how the result is saved so the
engine serves it. Both tokenize with the engine's own tokenizer classes, so the ids a
model is trained on are the ids it is served with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from bot.engine.tokenizer import Tokenizer

#: Label id the loss ignores (padding), as in torch's cross_entropy and transformers.
IGNORE = -100

#: (source ids, target ids), each ending with EOS.
Example = tuple[list[int], list[int]]
Batch = dict[str, torch.Tensor]


class Recipe(Protocol):
    """One model family's side of training; the loop calls nothing else."""

    model: nn.Module
    tokenizer: Tokenizer
    pad_id: int
    eos_id: int
    #: Tokens per source and target (EOS included) this run cuts texts to.
    max_len: int
    #: The learning rate when --lr is not given.
    default_lr: float

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy over the real (non-IGNORE) label tokens of ``batch``."""
        ...

    def generate(self, batch: Batch) -> list[list[int]]:
        """Greedy output ids per row, without decoder start and EOS."""
        ...

    def save(self, out: Path) -> None:
        """Write the model so ``Engine.load(out)`` serves it (the tokenizer is already there)."""
        ...


def cut(ids: list[int], max_len: int, eos_id: int) -> list[int]:
    """``ids`` cut to ``max_len`` with EOS kept last, so the model still learns to stop."""
    return ids if len(ids) <= max_len else [*ids[: max_len - 1], eos_id]


def encode_source(recipe: Recipe, source: str) -> list[int]:
    return cut(recipe.tokenizer.encode(source), recipe.max_len, recipe.eos_id)


def encode_pair(recipe: Recipe, source: str, target: str) -> Example:
    target_ids = cut(recipe.tokenizer.encode_target(target), recipe.max_len, recipe.eos_id)
    return encode_source(recipe, source), target_ids


def collate(examples: list[Example], pad_id: int) -> Batch:
    """Padded ``source`` ids with their ``mask`` and ``labels`` (IGNORE on padding)."""
    rows = len(examples)
    src_len = max(len(s) for s, _ in examples)
    tgt_len = max(len(t) for _, t in examples)
    source = torch.full((rows, src_len), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, src_len), dtype=torch.long)
    labels = torch.full((rows, tgt_len), IGNORE, dtype=torch.long)
    for i, (src, tgt) in enumerate(examples):
        source[i, : len(src)] = torch.tensor(src)
        mask[i, : len(src)] = 1
        labels[i, : len(tgt)] = torch.tensor(tgt)
    return {"source": source, "mask": mask, "labels": labels}


def decoder_inputs(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """Teacher forcing's inputs: labels shifted right behind the decoder start token."""
    inputs = labels.new_full(labels.shape, pad_id)
    inputs[:, 0] = start_id
    inputs[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == IGNORE, pad_id)
    return inputs


def strip_eos(rows: list[list[int]], eos_id: int) -> list[list[int]]:
    """Each row up to (without) its first EOS."""
    return [row[: row.index(eos_id)] if eos_id in row else row for row in rows]
