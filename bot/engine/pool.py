"""Several models side by side (e.g. flan-T5 plus Marian translation pairs), loaded lazily."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from .engine import Engine


class EnginePool:
    """Loads engines on first use off the event loop and keeps the ``max_loaded`` most recent."""

    def __init__(
        self,
        default_model: str,
        *,
        int8: bool = True,
        threads: int = 0,
        max_batch: int = 32,
        max_queue: int = 256,
        timeout: float = 120.0,
        cache_dir: str | None = None,
        max_loaded: int = 2,
    ) -> None:
        self.default_model = default_model
        self._kwargs = dict(
            int8=int8,
            threads=threads,
            max_batch=max_batch,
            max_queue=max_queue,
            cache_dir=cache_dir,
            timeout=timeout,
        )
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
                engine = await asyncio.to_thread(Engine.load, name, **self._kwargs)  # type: ignore[arg-type]
                await engine.start()
                self._engines[name] = engine
                self._evict()
            self._engines.move_to_end(name)
            return engine

    def _evict(self) -> None:
        while len(self._engines) > self.max_loaded:
            _, old = self._engines.popitem(last=False)
            # Let requests already queued on the evicted engine finish before its worker stops.
            task = asyncio.create_task(old.stop(drain=True))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    @property
    def loaded(self) -> list[str]:
        return list(self._engines)

    async def close(self) -> None:
        engines, self._engines = list(self._engines.values()), OrderedDict()
        await asyncio.gather(*(e.stop() for e in engines), *self._retiring)
