"""The learning rate: warmup, halving on a validation plateau, the floor, resume."""

from __future__ import annotations

import torch

from bot.train.schedule import MIN_SCALE, PATIENCE, Schedule


def test_linear_warmup_then_constant() -> None:
    schedule = Schedule(1e-3, warmup=4)
    assert [schedule.lr(step) for step in range(6)] == [
        2.5e-4,
        5e-4,
        7.5e-4,
        1e-3,
        1e-3,
        1e-3,
    ]
    assert Schedule(1e-3).lr(0) == 1e-3


def test_halved_after_patience_validations_without_a_new_best() -> None:
    schedule = Schedule(1.0)
    assert not schedule.observe(1.0)
    halvings = [schedule.observe(loss) for loss in [1.0] * PATIENCE]
    assert halvings == [False] * (PATIENCE - 1) + [True]
    assert schedule.lr(100) == 0.5
    assert not schedule.observe(0.5)  # a new best resets the count
    assert schedule.lr(100) == 0.5


def test_never_below_the_floor() -> None:
    schedule = Schedule(1.0)
    for _ in range(100):
        schedule.observe(1.0)
    assert schedule.lr(0) == MIN_SCALE


def test_apply_sets_every_group_and_state_round_trips() -> None:
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=9.0)
    schedule = Schedule(0.1, warmup=2)
    assert schedule.apply(optimizer, 0) == 0.05
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.05]
    for loss in (1.0, 2.0, 2.0):
        schedule.observe(loss)
    resumed = Schedule(0.1, warmup=2)
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.lr(10) == schedule.lr(10) == 0.05
