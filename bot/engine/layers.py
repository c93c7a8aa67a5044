"""Building blocks shared by the model families: linear layers, norms, attention.

The hot decode loop runs ~20 tensor ops per layer, so these are plain classes with
``__call__`` rather than ``nn.Module``: module hooks and attribute lookups cost more
than the small matmuls they wrap at batch size 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

NEG_INF = float("-inf")

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "swish": F.silu,
}


class Linear:
    """``y = x W^T + b`` in float32; the int8 variant in :mod:`.quant` has the same call."""

    __slots__ = ("bias", "weight")

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight = weight.contiguous()
        self.bias = None if bias is None else bias.contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]


def fuse(*parts: Linear) -> Linear:
    """One linear computing several projections of the same input (e.g. Q, K, V).

    One wide matmul beats three narrow ones when the batch is small: the cost is mostly
    per-call overhead and weight streaming, not arithmetic.
    """
    weight = torch.cat([p.weight for p in parts])
    if all(p.bias is None for p in parts):
        return Linear(weight)
    biases = [p.bias if p.bias is not None else p.weight.new_zeros(p.out_features) for p in parts]
    return Linear(weight, torch.cat(biases))


class RMSNorm:
    """T5's scale-only layer norm, written out as transformers computes it.

    ``F.rms_norm`` is a composite on CPU that dispatches about twice as many ops (dtype
    round trips included), which costs more than the arithmetic at batch size 1. The
    scale can be folded into the next linear layer (:func:`fold_scale`), leaving
    ``weight`` None.
    """

    __slots__ = ("eps", "folded", "weight")

    def __init__(self, weight: torch.Tensor, eps: float) -> None:
        self.weight: torch.Tensor | None = weight
        self.eps = eps
        self.folded = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded:
            # x / ||x|| is x / rms(x) up to the sqrt(d) factor folded into the next
            # layer: 2 ops instead of 5 (eps only matters for all-zero states).
            return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min_(self.eps)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x if self.weight is None else self.weight * x


def rms_norm(weight: torch.Tensor, eps: float) -> RMSNorm:
    return RMSNorm(weight, eps)


def fold_scale(norm: RMSNorm, *linears: Linear, extra: float = 1.0) -> None:
    """Move a norm's per-channel scale into the linears that read its output.

    Saves one op per norm per step; it changes float rounding, so it is only used
    before int8 quantization, where exact float equality is not expected anyway.
    """
    if norm.weight is None or norm.folded:
        return
    scale = norm.weight * (extra * norm.weight.shape[0] ** 0.5)
    for linear in linears:
        linear.weight = linear.weight * scale[None, :]
    norm.weight = None
    norm.folded = True


def layer_norm(
    weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Standard layer norm (Marian, BART)."""
    shape = (weight.shape[0],)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, shape, weight, bias, eps)

    return norm


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """Softmax attention with an additive bias that carries masks and position terms."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)


def padding_bias(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """``[B, 1, 1, width]`` additive mask hiding keys at or beyond each row's length."""
    keys = torch.arange(width, device=lengths.device)
    hidden = keys[None, :] >= lengths[:, None]
    return torch.zeros(hidden.shape).masked_fill_(hidden, NEG_INF)[:, None, None, :]


def causal_bias(length: int) -> torch.Tensor:
    """``[length, length]`` additive mask hiding future positions."""
    return torch.full((length, length), NEG_INF).triu_(1)


def sinusoidal_positions(count: int, dim: int) -> torch.Tensor:
    """Marian's fixed position table: sines in the first half, cosines in the second.

    Computed in float64 like the reference so greedy outputs match token for token.
    """
    pos = torch.arange(count, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    sentinel = math.ceil(dim / 2)
    out = torch.empty(count, dim, dtype=torch.float32)
    out[:, :sentinel] = torch.sin(angle[:, 0::2]).float()
    out[:, sentinel:] = torch.cos(angle[:, 1::2]).float()
    return out


def iter_linears(obj: Any, seen: set[int] | None = None) -> Iterator[tuple[Any, str, Linear]]:
    """Yield ``(owner, attribute, linear)`` for every float Linear reachable from ``obj``."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    items = enumerate(obj) if isinstance(obj, list) else vars(obj).items()
    for name, value in items:
        if isinstance(value, Linear):
            yield obj, name, value
        elif isinstance(value, list) or _is_layer(value):
            yield from iter_linears(value, seen)


def _is_layer(value: Any) -> bool:
    """Our own layer objects (not functions, closures or tensors)."""
    return hasattr(value, "__dict__") and type(value).__module__.startswith("bot.engine.")


def replace_linears(obj: Any, make: Callable[[Linear], Any]) -> None:
    """Swap every float Linear for ``make(linear)`` (used for int8)."""
    for owner, name, linear in list(iter_linears(obj)):
        if isinstance(owner, list):
            owner[name] = make(linear)
        else:
            setattr(owner, name, make(linear))
        # Drop the float weight as soon as its int8 copy exists, not after the last layer.
        linear.weight = linear.bias = None  # type: ignore[assignment]
