"""Progress bar and TensorBoard writer, each optional.

tqdm and tensorboard are in the ``train`` extra. Without tqdm, or when stderr is not a
terminal (a log file would fill with redrawn bars), a plain line is printed every few
seconds; without tensorboard no scalars are written (and the CLI says so once).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

#: Seconds between plain progress lines when tqdm is missing.
_PLAIN_EVERY = 5.0


class Progress:
    """Steps of one epoch with loss, tokens/s and ETA (tqdm's, or our own estimate)."""

    def __init__(self, total: int, epoch: int, enabled: bool = True, initial: int = 0) -> None:
        self.total, self.epoch, self.enabled, self.done = total, epoch, enabled, initial
        self._start = time.monotonic()
        self._last = 0.0
        self._bar: Any = None
        if not enabled or not sys.stderr.isatty():  # a log file gets the plain lines
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(
            total=total, initial=initial, desc=f"epoch {epoch}", unit="batch", leave=False
        )

    def update(self, loss: float, tokens_per_s: float) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_s:,.0f}", refresh=False)
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last < _PLAIN_EVERY and self.done < self.total:
            return
        self._last = now
        rate = self.done / max(now - self._start, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0.0
        print(
            f"epoch {self.epoch} {self.done}/{self.total} loss {loss:.3f} "
            f"{tokens_per_s:,.0f} tok/s ETA {eta:.0f}s",
            file=sys.stderr,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _NoWriter:
    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_writer(logdir: Path) -> tuple[Any, bool]:
    """(writer, available): a SummaryWriter, or a no-op when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return _NoWriter(), False
    return SummaryWriter(log_dir=str(logdir)), True
