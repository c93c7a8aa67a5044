"""The learning rate: a linear warmup, then halved whenever validation stops improving.

A run on a time budget (``--minutes``) does not know how many steps it will take, so a
schedule that decays towards a planned last step (cosine, linear) does not fit. Halving
on a plateau needs no plan: the rate stays high while validation loss still falls, and
drops when it stops falling (or spikes, as Adam at a constant rate tends to once the loss
is tiny), which steadies the end of a long run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

#: Validations without a new best validation loss before the rate is halved.
PATIENCE = 2
FACTOR = 0.5
#: The rate never drops below this share of ``--lr``.
MIN_SCALE = 1 / 64


@dataclass
class Schedule:
    base: float
    warmup: int = 0
    scale: float = 1.0
    best: float = math.inf
    bad: int = 0

    def lr(self, step: int) -> float:
        """The rate for optimizer step ``step`` (0-based)."""
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        return self.base * warm * self.scale

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        rate = self.lr(step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        return rate

    def observe(self, val_loss: float) -> bool:
        """Record a validation; True when this one halved the rate."""
        if val_loss < self.best:
            self.best, self.bad = val_loss, 0
            return False
        self.bad += 1
        if self.bad < PATIENCE or self.scale <= MIN_SCALE:
            return False
        self.scale, self.bad = max(self.scale * FACTOR, MIN_SCALE), 0
        return True

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("scale", "best", "bad"):  # base and warmup come from this run's options
            setattr(self, name, state[name])
