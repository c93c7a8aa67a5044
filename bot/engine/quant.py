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

from .layers import Linear


def int8_available() -> bool:
    """True when this torch build has the fbgemm dynamic int8 linear."""
    try:
        return "fbgemm" in torch.backends.quantized.supported_engines and hasattr(
            torch.ops.quantized, "linear_dynamic"
        )
    except (AttributeError, RuntimeError):
        return False


class Int8Linear:
    """A linear layer with symmetric per-output-channel int8 weights."""

    __slots__ = ("_packed", "out_features", "reduce_range")

    def __init__(self, linear: Linear, reduce_range: bool = True) -> None:
        weight = linear.weight.float()
        scale = (weight.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
        zero = torch.zeros(weight.shape[0], dtype=torch.long)
        q = torch.clamp(torch.round(weight / scale[:, None].float()), -127, 127).to(torch.int8)
        with warnings.catch_warnings():
            # The qint8 tensor only exists for the moment it takes to prepack the weight;
            # torch warns that such tensors are deprecated, which is known (see above).
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch._make_per_channel_quantized_tensor(q, scale, zero, 0)
            self._packed = torch.ops.quantized.linear_prepack(qweight, linear.bias)
        self.out_features = weight.shape[0]
        # Full-range activations halve the drift against float32, but only VNNI kernels
        # can sum their products without int16 saturation (see .cpu).
        self.reduce_range = reduce_range

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed, self.reduce_range)
