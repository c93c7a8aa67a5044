"""What the scheduler needs from a model family, whatever its architecture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch

from .cache import KVCache, fill_cross_attention

L = TypeVar("L")
#: Applied to each layer as soon as it is built (int8: fold norms, quantize), so the
#: float32 weights of only one layer are alive at a time while a model loads.
LayerHook = Callable[[Any], Any]


def keep(layer: L) -> L:
    """The default :data:`LayerHook`: the layer as built (float32)."""
    return layer


@dataclass
class ModelInfo:
    """Token ids and limits read from config.json."""

    family: str
    vocab_size: int
    pad_token_id: int
    eos_token_id: int
    decoder_start_token_id: int
    max_source_positions: int | None
    layers: int
    heads: int
    head_dim: int
    bad_token_ids: list[int] = field(default_factory=list)
    forced_bos_token_id: int | None = None  # BART-style: first generated token
    forced_eos_token_id: int | None = None  # Marian/BART: last token when max_new_tokens is hit


class Seq2SeqModel(Protocol):
    """The forward passes a family implements; all run under ``torch.inference_mode``."""

    info: ModelInfo

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` padded source ids -> ``[B, S, D]`` encoder states."""
        ...

    def fill_cross(
        self, cache: KVCache, rows: torch.Tensor, hidden: torch.Tensor, lengths: torch.Tensor
    ) -> None:
        """Project encoder states to each layer's cross-attention K/V in the given rows."""
        ...

    def decode_step(
        self,
        cache: KVCache,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        self_len: int,
    ) -> torch.Tensor:
        """One token for each of the first ``n`` rows -> ``[n, V]`` float32 logits."""
        ...

    def decode_full(
        self, hidden: torch.Tensor, source_lengths: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced ``[B, T]`` decoder ids -> ``[B, T, V]`` logits (for scoring)."""
        ...


class CrossFromDecoderLayers:
    """``fill_cross`` for every family here: each decoder layer has a fused ``cross_kv``.

    A family class lists this as a base and provides ``decoder``, ``heads`` and ``dk``.
    """

    decoder: list[Any]
    heads: int
    dk: int

    def fill_cross(
        self, cache: KVCache, rows: torch.Tensor, hidden: torch.Tensor, lengths: torch.Tensor
    ) -> None:
        fill_cross_attention(self.decoder, self.heads, self.dk, cache, rows, hidden, lengths)
