"""Several models side by side (e.g. flan-T5 plus Marian translation pairs), loaded lazily.

An evicted engine is closed: a task still holding it gets ``EngineClosed`` (a "please try
again" reply) instead of restarting it behind the pool's back; asking the pool again
loads a fresh one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

from .config import EngineConfig

if TYPE_CHECKING:
    # Importing the engine imports torch (seconds); a pool is built at every start, even by
    # `seqbot chat -c /help`, so the engine module loads only when a model is first needed.
    from .engine import Engine


class EnginePool:
    """Loads engines on first use off the event loop and keeps the ``max_loaded`` most recent."""

    def __init__(self, config: EngineConfig, default_model: str, *, max_loaded: int = 2) -> None:
        """Every engine runs with ``config``; ``get()`` without a name loads ``default_model``."""
        self.config, self.default_model = config, default_model
        self.max_loaded = max(1, max_loaded)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    async def get(self, model: str | None = None) -> Engine:
        name = model or self.default_model
        engine = self._engines.get(name)
        if engine is not None:
            self._engines.move_to_end(name)
            return engine
        async with self._locks.setdefault(name, asyncio.Lock()):
            engine = self._engines.get(name)
            if engine is None:
                from .engine import Engine

                engine = await asyncio.to_thread(Engine.load, name, self.config)
                await engine.start()
                self._engines[name] = engine
                self._evict()
            self._engines.move_to_end(name)
            return engine

    def _evict(self) -> None:
        while len(self._engines) > self.max_loaded:
            _, old = self._engines.popitem(last=False)
            # Refuse new work now; requests already queued finish before the worker stops.
            task = asyncio.create_task(old.close(drain=True))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    @property
    def loaded(self) -> list[str]:
        return list(self._engines)

    async def close(self) -> None:
        engines, self._engines = list(self._engines.values()), OrderedDict()
        await asyncio.gather(*(e.close() for e in engines), *self._retiring)
