"""Keeping the C heap from growing: glibc's malloc settings for a long-running engine.

torch allocates tensors with ``malloc``. glibc serves a block from its heap unless it is
larger than the mmap threshold, and that threshold is dynamic: every time a large
``mmap``-ed block is freed, glibc raises the threshold to its size (up to 32 MB). After
the first encoder pass, most activations therefore came from the heap, and a heap
cannot return memory from under blocks still in use, so peak RSS kept rising with each
burst: 32 concurrent requests took 660 MB of heap where 300 MB were ever live at once.

Fixing the threshold (which also turns off the dynamic raise) sends every block above
it to its own ``mmap``, returned to the kernel on ``free``. Smaller blocks, such as one
decode step's activations, still come from the heap and are reused without page faults.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_done = False


def tune_allocator(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold once per process; False where it does not apply.

    An operator's own setting (``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES``) wins.
    """
    global _done
    if _done:
        return True
    own = "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    )
    if own or platform.libc_ver()[0] != "glibc":
        return False
    try:
        ok = ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, threshold) == 1
    except (OSError, AttributeError):
        ok = False
    _done = ok
    if ok:
        log.debug("malloc: blocks over %d bytes get their own mmap", threshold)
    return ok
