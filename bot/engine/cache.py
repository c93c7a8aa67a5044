"""Preallocated key/value memory for every sequence the scheduler decodes at once.

One row per live sequence (a beam counts as a row). Rows in use are always the first
``n``, so a decode step attends over plain slices (no gather per layer); when a request
retires, rows from the tail move into the holes (see :meth:`KVCache.move_row`).

Tensors live in private anonymous memory maps: a page becomes resident only when it is
written (reads of untouched pages see the kernel's shared zero page, which a *shared*
mapping would have allocated instead: attention reads every row up to the longest source
in the batch), so resident memory follows the lengths actually written rather than the
bounds. Rows that fall free are handed back to the kernel (:meth:`KVCache.release_rows`),
so memory follows the live batch, not the largest it ever was. No slot ever holds NaN
garbage either: masked positions get weight exactly zero, and zero times a finite stale
value is zero, while zero times NaN is NaN.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Sequence
from typing import Any

import torch

from .layers import attention, padding_bias

#: Rows per cross-attention group (see :class:`CrossAttention`).
GROUP_ROWS = 8
#: What one more attention call costs, in row-positions of K/V it would otherwise read.
GROUP_CALL_COST = 256


class LazyZeros:
    """A float32 zero tensor whose pages are only materialised when written."""

    def __init__(self, *shape: int) -> None:
        count = math.prod(shape)
        self._map = mmap.mmap(-1, max(1, count) * 4, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.tensor = torch.frombuffer(self._map, dtype=torch.float32, count=count).view(shape)

    def release(self, start: int, stop: int) -> None:
        """Give the pages wholly inside elements ``[start, stop)`` back; they read as zeros."""
        page = mmap.PAGESIZE
        first = -(-start * 4 // page) * page
        last = stop * 4 // page * page
        if last > first:
            self._map.madvise(mmap.MADV_DONTNEED, first, last - first)


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
        self._maps = [
            LazyZeros(layers, rows, heads, length, head_dim)
            for length in (max_target, max_target, max_source, max_source)
        ]
        self.self_k, self.self_v, self.cross_k, self.cross_v = (m.tensor for m in self._maps)
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

    def self_views(self, n: int, target_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention K and V of the first ``n`` rows, all layers, sliced once per step."""
        return self.self_k[:, :n, :, :target_len], self.self_v[:, :n, :, :target_len]

    def cross_attention(self, n: int) -> CrossAttention:
        """This step's cross-attention over the first ``n`` rows (see :class:`CrossAttention`)."""
        return CrossAttention(self, n)

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

    def release_rows(self, start: int, stop: int) -> None:
        """Rows ``start..stop-1`` hold nothing live any more: return their memory.

        Called after compaction, when the tail rows have moved into holes. Re-using a row
        later costs a few page faults, far less than the encoder pass that fills it.
        """
        if stop <= start:
            return
        for zeros in self._maps:
            layers, rows = zeros.tensor.shape[:2]
            per_row = zeros.tensor[0, 0].numel()
            for layer in range(layers):
                base = (layer * rows) * per_row
                zeros.release(base + start * per_row, base + stop * per_row)

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


class CrossAttention:
    """One decode step's cross-attention, in groups of rows with similar source lengths.

    Decode-time attention is bound by reading K/V, and one batched call reads every
    row up to the longest source in the batch: with sources of 16-256 tokens nearly half
    of what it read was padding. Rows admitted together get consecutive rows sorted by
    length (see the scheduler's prefill), so consecutive groups of :data:`GROUP_ROWS`
    rows often have much shorter longest sources than the batch. Each group reads up to
    its own longest, unless merging with the previous group costs less than one more
    call (:data:`GROUP_CALL_COST`). The padding mask is built once per step.
    """

    def __init__(self, cache: KVCache, n: int) -> None:
        lengths = cache.source_len[:n]
        widths = [max(1, int(w)) for w in lengths.tolist()]
        self.groups = _groups(widths)
        width = max(g[2] for g in self.groups)
        self._bias = padding_bias(lengths, width)
        self._k = cache.cross_k[:, :n, :, :width]
        self._v = cache.cross_v[:, :n, :, :width]

    def __call__(self, layer: int, q: torch.Tensor, scale: float) -> torch.Tensor:
        """``q`` is ``[n, heads, 1, head_dim]``; so is the result."""
        k, v = self._k[layer], self._v[layer]
        if len(self.groups) == 1:
            return attention(q, k, v, self._bias, scale)
        parts = [
            attention(q[a:b], k[a:b, :, :w], v[a:b, :, :w], self._bias[a:b, :, :, :w], scale)
            for a, b, w in self.groups
        ]
        return torch.cat(parts)


def _groups(widths: list[int]) -> list[tuple[int, int, int]]:
    """``(start, stop, width)`` row ranges covering ``widths``, greedily merged."""
    groups: list[tuple[int, int, int]] = []
    for start in range(0, len(widths), GROUP_ROWS):
        stop = min(start + GROUP_ROWS, len(widths))
        width = max(widths[start:stop])
        if groups:
            a, _, w = groups[-1]
            merged = (stop - a) * max(w, width)
            apart = (start - a) * w + (stop - start) * width + GROUP_CALL_COST
            if merged <= apart:
                groups[-1] = (a, stop, max(w, width))
                continue
        groups.append((start, stop, width))
    return groups
