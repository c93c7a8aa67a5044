"""int8 layers: each row is quantized on its own scale, whatever shares its batch."""

from __future__ import annotations

import pytest
import torch

from bot.engine.layers import Embedding, Linear
from bot.engine.quant import Int8Embedding, Int8Linear, int8_available, quantize_rows

from .test_loading import fbgemm_has_vnni

pytestmark = pytest.mark.skipif(not int8_available(), reason="no fbgemm int8 in this torch")


def make_linear(rows: int = 64, cols: int = 128, bias: bool = True) -> Linear:
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(rows, cols, generator=gen) / cols**0.5
    return Linear(weight, torch.randn(rows, generator=gen) if bias else None)


@pytest.mark.parametrize("reduce_range", [False, True])
def test_a_row_gets_the_same_result_beside_a_row_of_huge_values(reduce_range: bool) -> None:
    """With one scale for the whole input, the big row wiped out the small row's precision."""
    linear = make_linear()
    exact = linear(torch.randn(1, 128, generator=torch.Generator().manual_seed(1)))
    x = torch.randn(1, 128, generator=torch.Generator().manual_seed(1))
    layer = Int8Linear(make_linear(), reduce_range=reduce_range)
    alone = layer(x)
    beside = layer(torch.cat([x, x * 1000.0]))[:1]
    assert torch.allclose(alone, beside, atol=0.02 * exact.abs().max().item())
    error = (beside - exact).abs().max().item()
    assert error < 0.05 * exact.abs().max().item()


def test_int8_linear_keeps_its_bias_out_of_the_row_scaling() -> None:
    linear = make_linear(bias=True)
    x = torch.randn(5, 3, 128) * torch.logspace(-2, 2, 5)[:, None, None]
    exact = linear(x)
    # The range this CPU's kernels take: full range saturates on AVX2 kernels.
    layer = Int8Linear(make_linear(bias=True), reduce_range=not fbgemm_has_vnni())
    approx = layer(x)
    assert approx.shape == exact.shape
    relative = (approx - exact).abs().amax(-1) / exact.abs().amax(-1)
    assert relative.max().item() < 0.05


def test_int8_embedding_rows_are_within_half_a_step() -> None:
    weight = torch.randn(300, 16) * torch.logspace(-3, 1, 300)[:, None]
    q, scale = quantize_rows(weight)
    table = Int8Embedding(Embedding(weight.clone()))
    ids = torch.tensor([[0, 5, 299], [299, 7, 0]])
    rows = table(ids)
    assert rows.shape == (2, 3, 16)
    step = scale.float()[ids][..., None]
    assert ((rows - weight[ids]).abs() <= step / 2 + 1e-7).all()
    assert q.dtype == torch.int8 and q.abs().max().item() == 127
