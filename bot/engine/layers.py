"""Building blocks shared by the model families: linear layers, norms, attention.

The hot decode loop runs ~20 tensor ops per layer, so these are plain classes with
``__call__`` rather than ``nn.Module``: module hooks and attribute lookups cost more
than the small matmuls they wrap at batch size 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .weights import Weights

NEG_INF = float("-inf")
P = TypeVar("P")
#: What a block calls for attention: a projection in, the attention output out (see .base).
Attend = Callable[[torch.Tensor], torch.Tensor]

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


class Embedding:
    """Token embedding lookups, in float32; :class:`.quant.Int8Embedding` stores int8 rows.

    A class rather than a bare tensor so int8 mode can swap it like a linear layer: at a
    32k vocabulary the float table is the largest tensor the engine keeps.
    """

    __slots__ = ("weight",)

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


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


def biased_linear(w: Weights, prefix: str) -> Linear:
    """``{prefix}.weight`` and ``{prefix}.bias`` as one Linear (BART-style checkpoints)."""
    return Linear(w.get(f"{prefix}.weight"), w.get(f"{prefix}.bias"))


def first_present(w: Weights, *names: str) -> torch.Tensor:
    """The first of ``names`` the checkpoint has (the last one's error if none)."""
    return w.get(w.first_name(*names))


def layer_norm_at(
    w: Weights, prefix: str, eps: float = 1e-5
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The layer norm stored under ``prefix`` (``.weight`` and ``.bias``)."""
    return layer_norm(w.get(f"{prefix}.weight"), w.get(f"{prefix}.bias"), eps)


class BartStyleLayer:
    """The weights of one BART-style block, as Marian, BART and M2M100/NLLB name them.

    The families differ in where the norms sit (post-norm Marian/BART, pre-norm M2M100),
    not in what the block holds, so each family subclasses this and writes its own
    order of operations. Q/K/V and the cross K/V are fused (see :func:`fuse`).
    """

    def __init__(self, w: Weights, prefix: str, activation: str, decoder: bool) -> None:
        att = f"{prefix}.self_attn"
        self.qkv = fuse(*(biased_linear(w, f"{att}.{p}_proj") for p in "qkv"))
        self.o = biased_linear(w, f"{att}.out_proj")
        self.norm1 = layer_norm_at(w, f"{prefix}.self_attn_layer_norm")
        if decoder:
            cross = f"{prefix}.encoder_attn"
            self.cross_q = biased_linear(w, f"{cross}.q_proj")
            self.cross_kv = fuse(
                biased_linear(w, f"{cross}.k_proj"), biased_linear(w, f"{cross}.v_proj")
            )
            self.cross_o = biased_linear(w, f"{cross}.out_proj")
            self.norm2 = layer_norm_at(w, f"{prefix}.encoder_attn_layer_norm")
        self.fc1 = biased_linear(w, f"{prefix}.fc1")
        self.fc2 = biased_linear(w, f"{prefix}.fc2")
        self.norm_ff = layer_norm_at(w, f"{prefix}.final_layer_norm")
        self.act = ACTIVATIONS[activation]


class PreNormBlock:
    """The order of a pre-norm block (T5, M2M100/NLLB), as a mixin for a family's layer.

    Each sublayer reads a normalised copy of the residual stream and adds its output
    back. The family's layer holds the weights: ``norm1``, ``qkv``, ``o``, the decoder's
    ``norm2``, ``cross_q``, ``cross_o``, and ``norm_ff`` before its feed-forward ``ffn``.
    """

    norm1: Callable[[torch.Tensor], torch.Tensor]
    norm2: Callable[[torch.Tensor], torch.Tensor]
    norm_ff: Callable[[torch.Tensor], torch.Tensor]
    qkv: Callable[[torch.Tensor], torch.Tensor]
    o: Callable[[torch.Tensor], torch.Tensor]
    cross_q: Callable[[torch.Tensor], torch.Tensor]
    cross_o: Callable[[torch.Tensor], torch.Tensor]

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(
        self, x: torch.Tensor, attend: Attend, cross: Attend | None = None
    ) -> torch.Tensor:
        x = x + self.o(attend(self.qkv(self.norm1(x))))
        if cross is not None:
            x = x + self.cross_o(cross(self.cross_q(self.norm2(x))))
        return x + self.ffn(self.norm_ff(x))


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


def iter_parts(
    obj: Any, kind: type[P], seen: set[int] | None = None
) -> Iterator[tuple[Any, Any, P]]:
    """Yield ``(owner, attribute or index, part)`` for every reference to a ``kind`` part.

    A part shared by two owners (a head tied to the embedding) is yielded for each.
    """
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    items = enumerate(obj) if isinstance(obj, list) else vars(obj).items()
    for name, value in items:
        if isinstance(value, kind):
            yield obj, name, value
        elif isinstance(value, list) or _is_layer(value):
            yield from iter_parts(value, kind, seen)


def _is_layer(value: Any) -> bool:
    """Our own layer objects (not functions, closures or tensors)."""
    return hasattr(value, "__dict__") and type(value).__module__.startswith("bot.engine.")


def replace_parts(obj: Any, kind: type[P], make: Callable[[P], Any]) -> None:
    """Swap every ``kind`` part reachable from ``obj`` for ``make(part)`` (used for int8).

    A shared part is converted once and replaced everywhere. Its float tensors are
    dropped as soon as the replacement exists, not after the last layer, so the float
    copies are never all alive at once.
    """
    made: dict[int, Any] = {}
    for owner, name, part in list(iter_parts(obj, kind)):
        if id(part) not in made:
            made[id(part)] = make(part)
            for slot in getattr(kind, "__slots__", ()):
                setattr(part, slot, None)
        if isinstance(owner, list):
            owner[name] = made[id(part)]
        else:
            setattr(owner, name, made[id(part)])


def replace_linears(obj: Any, make: Callable[[Linear], Any]) -> None:
    """Swap every float Linear for ``make(linear)``."""
    replace_parts(obj, Linear, make)
