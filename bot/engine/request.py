"""What a caller's coroutine hands the scheduler: one generate or one score request.

The :class:`~.engine.Engine` builds them in the caller's coroutine (tokenized, options
checked); the :class:`~.scheduler.Scheduler` queues them and settles their futures; the
:class:`~.runner.ModelRunner` runs them. The two kinds differ in what they occupy: a
generate request holds one decoder row per beam for many steps, a score request holds
one batch slot for the single step its pass runs in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .decoding import Strategy


@dataclass(eq=False)
class Request:
    """The part the scheduler sees: the caller's loop and future, and the slots held."""

    source: list[int]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    truncated: bool = False
    cancelled: bool = False
    held: int = 0  # batch slots reserved for it; 0 while it waits in the queue

    @property
    def rows_needed(self) -> int:
        """Decoder rows (KV cache rows) it occupies while it runs."""
        return 0

    @property
    def slots(self) -> int:
        """Batch slots it occupies from admission until it leaves; a score takes one."""
        return max(1, self.rows_needed)

    @property
    def abandoned(self) -> bool:
        """Cancelled or timed out by its caller, or already answered: nothing to run."""
        return self.cancelled or self.future.done()

    @property
    def cost(self) -> int:
        """What it spends of a step's admission budget (token positions)."""
        raise NotImplementedError


@dataclass(eq=False, kw_only=True)
class GenerateRequest(Request):
    """Decodes in ``strategy.rows`` rows (one, or one per beam) until its strategy is done."""

    strategy: Strategy
    rows: list[int] = field(default_factory=list)  # its rows in the runner, in beam order
    position: int = 0  # decoder positions already in the cache

    @property
    def rows_needed(self) -> int:
        return self.strategy.rows

    @property
    def cost(self) -> int:
        return len(self.source)


@dataclass(eq=False, kw_only=True)
class ScoreRequest(Request):
    """Log-probabilities of each candidate (target ids, EOS included) given the source."""

    candidates: list[list[int]]

    @property
    def cost(self) -> int:
        return score_pass_cost([self])


def score_pass_cost(requests: Sequence[ScoreRequest]) -> int:
    """Token positions one score pass over ``requests`` runs through the model, padding included.

    The encoder runs every source padded to the longest; the teacher-forced decoder
    runs every (request, candidate) pair padded to the longest candidate, and projects
    the padded source states into each pair's cross-attention keys and values. All are
    counted alike, like the source tokens of a generate request: a rough proxy (a
    cross projection is cheaper than an encoder token, a decoder token with the
    vocabulary head dearer) that grows with every dimension a pass can grow in.
    """
    if not requests:
        return 0
    width = max(len(r.source) for r in requests)
    pairs = sum(len(r.candidates) for r in requests)
    target = max(len(c) for r in requests for c in r.candidates)
    return width * (len(requests) + pairs) + pairs * target
