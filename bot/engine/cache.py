"""Preallocated key/value memory for every sequence the scheduler decodes at once.

One row per live sequence (a beam counts as a row). Rows in use are always the first
``n``, so a decode step attends over plain slices (no gather per layer); when a request
retires, rows from the tail move into the holes (see :meth:`KVCache.move_row`).

Tensors live in anonymous memory maps: the kernel hands out zero pages on first touch,
so resident memory follows the lengths actually used rather than the bounds, and no
slot ever holds NaN garbage. That matters because masked positions get weight exactly
zero, and zero times a finite stale value is zero, while zero times NaN is NaN.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Sequence
from typing import Any

import torch


def lazy_zeros(*shape: int) -> torch.Tensor:
    """A float32 zero tensor whose pages are only materialised when written."""
    count = math.prod(shape)
    if count == 0:
        return torch.zeros(shape)
    buffer = mmap.mmap(-1, count * 4)
    return torch.frombuffer(buffer, dtype=torch.float32, count=count).view(shape)


class KVCache:
    """Self-attention K/V per decoder position and cross-attention K/V per source token."""

    def __init__(
        self, layers: int, rows: int, heads: int, head_dim: int, max_target: int, max_source: int
    ) -> None:
        self.rows, self.heads, self.max_target, self.max_source = (
            rows,
            heads,
            max_target,
            max_source,
        )
        self.self_k = lazy_zeros(layers, rows, heads, max_target, head_dim)
        self.self_v = lazy_zeros(layers, rows, heads, max_target, head_dim)
        self.cross_k = lazy_zeros(layers, rows, heads, max_source, head_dim)
        self.cross_v = lazy_zeros(layers, rows, heads, max_source, head_dim)
        self.source_len = torch.zeros(rows, dtype=torch.long)
        # Flat views let one index_copy_ write a new position for all rows and heads.
        self._flat_k = [k.view(-1, head_dim) for k in self.self_k]
        self._flat_v = [v.view(-1, head_dim) for v in self.self_v]
        self._head_offsets = torch.arange(heads) * max_target

    def write_index(self, positions: torch.Tensor) -> torch.Tensor:
        """Flat row indices (``[n * heads]``) of each row's current position, shared by all layers."""
        n = positions.shape[0]
        base = torch.arange(n) * (self.heads * self.max_target) + positions
        return (base[:, None] + self._head_offsets[None, :]).reshape(-1)

    def views(self, n: int, target_len: int, source_len: int) -> tuple[torch.Tensor, ...]:
        """Self K, self V, cross K, cross V for the first ``n`` rows, all layers, sliced once per step."""
        return (
            self.self_k[:, :n, :, :target_len],
            self.self_v[:, :n, :, :target_len],
            self.cross_k[:, :n, :, :source_len],
            self.cross_v[:, :n, :, :source_len],
        )

    def write(self, layer: int, index: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store ``[n, heads, head_dim]`` keys and values at the positions in ``index``."""
        dim = k.shape[-1]
        self._flat_k[layer].index_copy_(0, index, k.reshape(-1, dim))
        self._flat_v[layer].index_copy_(0, index, v.reshape(-1, dim))

    def fill_cross(self, layer: int, rows: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store ``[B, heads, S, head_dim]`` encoder keys/values for new rows."""
        width = k.shape[2]
        self.cross_k[layer, rows, :, :width] = k
        self.cross_v[layer, rows, :, :width] = v

    def move_row(self, src: int, dst: int, target_len: int) -> None:
        """Copy a live row into a freed one (compaction after a request retires)."""
        width = int(self.source_len[src])
        self.self_k[:, dst, :, :target_len] = self.self_k[:, src, :, :target_len]
        self.self_v[:, dst, :, :target_len] = self.self_v[:, src, :, :target_len]
        self.cross_k[:, dst, :, :width] = self.cross_k[:, src, :, :width]
        self.cross_v[:, dst, :, :width] = self.cross_v[:, src, :, :width]
        self.source_len[dst] = width

    def reorder(self, rows: list[int], parents: list[int], target_len: int) -> None:
        """Beam search: row ``rows[i]`` continues the sequence previously in ``parents[i]``."""
        dst = torch.tensor(rows)
        src = torch.tensor(parents)
        self.self_k[:, dst, :, :target_len] = self.self_k[:, src, :, :target_len]
        self.self_v[:, dst, :, :target_len] = self.self_v[:, src, :, :target_len]


def fill_cross_attention(
    layers: Sequence[Any],
    heads: int,
    head_dim: int,
    cache: KVCache,
    rows: torch.Tensor,
    hidden: torch.Tensor,
    lengths: torch.Tensor,
) -> None:
    """Project encoder states through each decoder layer's fused ``cross_kv`` into ``rows``.

    Shared by every family: cross-attention K/V are computed once per request at
    admission and then read at every decode step.
    """
    b, s, _ = hidden.shape
    for i, layer in enumerate(layers):
        k, v = layer.cross_kv(hidden).view(b, s, 2, heads, head_dim).permute(2, 0, 3, 1, 4)
        cache.fill_cross(i, rows, k, v)
    cache.source_len[rows] = lengths
