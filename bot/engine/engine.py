"""The engine tasks talk to: ``await engine.generate(...)`` and ``await engine.score(...)``.

Tokenization and option checks run in the caller's coroutine so a bad request fails
alone; the model runs on the scheduler's shared torch thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from functools import partial
from typing import Any

import torch

from . import loader
from .cpu import Int8Path, choose_int8_path
from .decoding import TokenRules, strategy_for
from .errors import EngineTimeout
from .layers import replace_linears
from .options import GenerationOptions, GenerationResult, ScoreResult
from .quant import Int8Linear, int8_available
from .scheduler import Request, Scheduler, on_torch_thread

log = logging.getLogger(__name__)

DEFAULT_MAX_TARGET_TOKENS = 512


class Engine:
    """One loaded encoder-decoder model serving every chat concurrently."""

    def __init__(
        self,
        loaded: loader.LoadedModel,
        name: str,
        *,
        int8: bool = True,
        int8_path: Int8Path | str | None = None,
        threads: int = 0,
        max_batch: int = 32,
        max_queue: int = 256,
        timeout: float | None = None,
        max_target_tokens: int = DEFAULT_MAX_TARGET_TOKENS,
    ) -> None:
        self.name = name
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.directory = loaded.directory
        self.max_source_tokens = loaded.max_source_tokens
        # Marian/BART position tables bound the target length too; T5's relative bias does not.
        positions = loaded.model.info.max_source_positions
        self.max_target_tokens = (
            min(max_target_tokens, positions) if positions else max_target_tokens
        )
        self.max_batch = max_batch
        self.timeout = timeout
        self.int8 = bool(int8 and int8_available())
        if int8 and not self.int8:
            log.warning("int8 linear layers are not available in this torch build; using float32")
        self.int8_path = _resolve(int8_path) if self.int8 else None
        if self.int8_path and not getattr(self.model, "quantized", False):
            _quantize(self.model, reduce_range=self.int8_path.reduce_range)
        _log_precision(name, self.int8_path)
        info = self.model.info
        self._rules = TokenRules(
            eos=info.eos_token_id,
            start=info.decoder_start_token_id,
            banned=info.bad_token_ids,
            forced_bos=info.forced_bos_token_id,
            forced_eos=info.forced_eos_token_id,
        )
        self._scheduler = Scheduler(
            self.model,
            self.tokenizer.decode,
            self._rules,
            max_batch=max_batch,
            max_queue=max_queue,
            max_target=self.max_target_tokens,
            max_source=self.max_source_tokens,
            threads=threads,
        )

    @classmethod
    def load(
        cls,
        path_or_hub_id: str,
        *,
        int8: bool = True,
        int8_path: str | None = None,
        threads: int = 0,
        max_batch: int = 32,
        max_queue: int = 256,
        cache_dir: str | None = None,
        timeout: float | None = None,
        max_target_tokens: int = DEFAULT_MAX_TARGET_TOKENS,
    ) -> Engine:
        """Load a model (blocking; call it through ``asyncio.to_thread`` from async code).

        ``int8_path`` (``auto``, ``vnni``, ``avx2``; default ``SEQBOT_ENGINE_INT8_PATH``)
        picks how int8 layers quantize activations; see :mod:`.cpu`.
        """
        path = _resolve(int8_path) if int8 and int8_available() else None
        convert = partial(_quantize, reduce_range=path.reduce_range) if path else None

        def load_here() -> loader.LoadedModel:
            if threads > 0:
                torch.set_num_threads(threads)
            with torch.inference_mode():
                return loader.load(path_or_hub_id, cache_dir, convert=convert)

        loaded = on_torch_thread(load_here)
        return cls(
            loaded,
            path_or_hub_id,
            int8=int8,
            int8_path=path,
            threads=threads,
            max_batch=max_batch,
            max_queue=max_queue,
            timeout=timeout,
            max_target_tokens=max_target_tokens,
        )

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._scheduler.start()

    async def stop(self, drain: bool = False) -> None:
        """Stop the worker; waiting and running requests fail unless ``drain`` is set.

        The next request starts it again; use :meth:`close` to retire the engine.
        """
        await asyncio.to_thread(self._scheduler.stop, drain)

    def close(self, drain: bool = False) -> Coroutine[Any, Any, None]:
        """Retire the engine for good: every later request gets :class:`EngineClosed`.

        New requests are refused from the call itself, before the returned coroutine
        runs, so a task still holding an evicted engine can never slip in and restart
        it. Await the result to stop the worker (after queued work with ``drain``).
        """
        self._scheduler.close()
        return asyncio.to_thread(self._scheduler.stop, drain)

    # -- tokens ----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def _source(self, text: str) -> tuple[list[int], bool]:
        ids = self.tokenizer.encode(text)
        if len(ids) <= self.max_source_tokens:
            return ids, False
        return [*ids[: self.max_source_tokens - 1], self.model.info.eos_token_id], True

    # -- requests --------------------------------------------------------------------------
    async def generate(
        self, text: str, options: GenerationOptions | None = None, *, timeout: float | None = None
    ) -> GenerationResult:
        return await self._submit(self._generation_request(text, options), timeout)

    async def generate_batch(
        self,
        texts: list[str],
        options: GenerationOptions | None = None,
        *,
        timeout: float | None = None,
    ) -> list[GenerationResult]:
        """Submit all texts at once so they are admitted and batched together."""
        requests = [self._generation_request(t, options) for t in texts]
        return list(await asyncio.gather(*(self._submit(r, timeout) for r in requests)))

    async def score(
        self, source: str, candidates: list[str], *, timeout: float | None = None
    ) -> list[ScoreResult]:
        """Log-probability of each candidate as the output for ``source``, in one batched pass."""
        if not candidates:
            return []
        ids, truncated = self._source(source)
        targets = [self.tokenizer.encode_target(c) for c in candidates]
        too_long = [
            c for c, t in zip(candidates, targets, strict=True) if len(t) > self.max_target_tokens
        ]
        if too_long:
            raise ValueError(
                f"candidate longer than {self.max_target_tokens} tokens: {too_long[0][:40]!r}"
            )
        loop = asyncio.get_running_loop()
        request = Request("score", ids, loop, loop.create_future(), truncated, candidates=targets)
        return await self._submit(request, timeout)

    def _generation_request(self, text: str, options: GenerationOptions | None) -> Request:
        opts = options or GenerationOptions()
        opts.validate(self.max_target_tokens, self.max_batch)
        ids, truncated = self._source(text)
        loop = asyncio.get_running_loop()
        return Request(
            "generate",
            ids,
            loop,
            loop.create_future(),
            truncated,
            strategy=strategy_for(opts, self._rules),
        )

    async def _submit(self, request: Request, timeout: float | None) -> Any:
        if not self._scheduler.running:
            self._scheduler.start()
        self._scheduler.submit(request)
        limit = timeout if timeout is not None else self.timeout
        try:
            async with asyncio.timeout(limit):
                return await request.future
        except TimeoutError:
            self._scheduler.cancel(request)
            raise EngineTimeout() from None
        except asyncio.CancelledError:
            self._scheduler.cancel(request)
            raise

    def stats(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "int8": self.int8,
            "int8_path": self.int8_path.name if self.int8_path else None,
            "threads": torch.get_num_threads(),
            **self._scheduler.stats(),
        }


def _quantize(model: Any, reduce_range: bool) -> None:
    """Swap every float linear layer for an int8 one, layer by layer."""
    if hasattr(model, "fold_norm_scales"):
        model.fold_norm_scales()
    replace_linears(model, partial(Int8Linear, reduce_range=reduce_range))
    model.quantized = True


def _resolve(int8_path: Int8Path | str | None) -> Int8Path:
    return int8_path if isinstance(int8_path, Int8Path) else choose_int8_path(int8_path)


def _log_precision(name: str, path: Int8Path | None) -> None:
    """One line at start saying how this engine computes, so a drift report can be placed."""
    if path is None:
        log.info("engine %s: float32 (int8 off)", name)
        return
    log.info("engine %s: int8 path %s", name, path)
    if path.key == "vnni" and choose_int8_path("auto").key != "vnni":
        log.warning("int8 full range forced on a CPU without VNNI kernels: results will clip")
