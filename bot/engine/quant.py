"""int8 weights for linear layers on CPU.

Measured on the 2-core AVX-512/VNNI machine for flan-t5-small shapes (batch 1..32):
fbgemm's ``quantized::linear_dynamic`` (per-channel int8 weights, activations quantized
per call inside the same op) was 2-5x faster than float32 and faster than
``aten._weight_int8pack_mm`` (dequantizes to float, 2x slower than fp32 at batch 32) and
``torch._int_mm`` plus separate activation quantization (3-4 extra ops per layer). We call
the op directly instead of the deprecated ``torch.ao.quantization.quantize_dynamic``
wrapper. If a future torch drops the op, :func:`int8_available` says so and the engine
stays in float32.

Whether activations use the full 8-bit range depends on the CPU: see :mod:`.cpu`.
"""

from __future__ import annotations

import warnings

import torch

from .layers import Embedding, Linear


def int8_available() -> bool:
    """True when this torch build has the fbgemm dynamic int8 linear."""
    try:
        return "fbgemm" in torch.backends.quantized.supported_engines and hasattr(
            torch.ops.quantized, "linear_dynamic"
        )
    except (AttributeError, RuntimeError):
        return False


_ROWS_AT_ONCE = 4096  # quantize in chunks: temporaries of a 32k-row head stay a few MB


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 values and float64 scales (``weight ~= q * scale[:, None]``)."""
    q = torch.empty(weight.shape, dtype=torch.int8)
    scale = torch.empty(weight.shape[0], dtype=torch.float64)
    for start in range(0, weight.shape[0], _ROWS_AT_ONCE):
        rows = weight[start : start + _ROWS_AT_ONCE].float()
        peak = torch.maximum(rows.amax(dim=1), -rows.amin(dim=1))
        step = (peak / 127.0).clamp_min(1e-12)
        scale[start : start + len(rows)] = step.double()
        q[start : start + len(rows)] = rows.div(step[:, None]).round_().clamp_(-127, 127)
    return q, scale


class Int8Linear:
    """A linear layer with symmetric per-output-channel int8 weights.

    fbgemm quantizes its input with one scale for the whole tensor. With several rows
    (a batch of sequences, or a scored candidate's positions) one row's large values
    would coarsen every other row's steps, and a request's result would depend on what
    else shares its batch. So a multi-row input is first divided row by row by its
    largest magnitude, which makes the one scale fit every row (per-row quantization,
    as CTranslate2 does), and the output rows are multiplied back: a few cheap ops that
    cut the teacher-forced log-prob drift from float32 by 26% on the benchmark model
    (0.050 to 0.037 nats per token). Even rows a folded RMS norm made unit-length gain
    from it (5% of that drift), so every layer does it, for 3-5% of a batched step.
    A single row needs none of it: its own range is the tensor's.
    """

    __slots__ = ("_packed", "bias", "out_features", "reduce_range")

    def __init__(self, linear: Linear, reduce_range: bool = True) -> None:
        q, scale = quantize_rows(linear.weight)
        zero = torch.zeros(q.shape[0], dtype=torch.long)
        with warnings.catch_warnings():
            # The qint8 tensor only exists for the moment it takes to prepack the weight;
            # torch warns that such tensors are deprecated, which is known (see above).
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch._make_per_channel_quantized_tensor(q, scale, zero, 0)
            # Bias added outside: it must not be scaled with the rows.
            self._packed = torch.ops.quantized.linear_prepack(qweight, None)
        self.bias = linear.bias
        self.out_features = q.shape[0]
        # Full-range activations halve the drift against float32, but only VNNI kernels
        # can sum their products without int16 saturation (see .cpu).
        self.reduce_range = reduce_range

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == x.shape[-1]:
            y = torch.ops.quantized.linear_dynamic(x, self._packed, self.reduce_range)
        else:
            # Two reductions without a temporary: linalg.vector_norm(inf) was 10-20x slower.
            peak = torch.maximum(x.amax(-1, keepdim=True), x.amin(-1, keepdim=True).neg_())
            peak = peak.clamp_min_(1e-30)
            y = torch.ops.quantized.linear_dynamic(x / peak, self._packed, self.reduce_range)
            y = y.mul_(peak)
        return y if self.bias is None else y.add_(self.bias)


class Int8Embedding:
    """Token embeddings as int8 rows with a float scale each, as CTranslate2 stores them.

    A lookup touches a handful of rows, so dequantizing them costs one multiply; the
    table shrinks 4x (66 MB to 16 MB for flan-t5-small's 32k x 512).
    """

    __slots__ = ("_q", "_scale")

    def __init__(self, embedding: Embedding) -> None:
        q, scale = quantize_rows(embedding.weight)
        self._q, self._scale = q, scale.float()[:, None]

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        flat = ids.reshape(-1)
        rows = self._q.index_select(0, flat).float().mul_(self._scale.index_select(0, flat))
        return rows.view(*ids.shape, -1)
