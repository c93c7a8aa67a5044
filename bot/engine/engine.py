"""The engine tasks talk to: ``await engine.generate(...)`` and ``await engine.score(...)``.

Tokenization and option checks run in the caller's coroutine so a bad request fails
alone; the model runs on the scheduler's shared torch thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
from collections.abc import Coroutine
from functools import partial
from typing import Any

import torch

from . import loader
from .config import EngineConfig
from .cpu import Int8Path, choose_int8_path
from .decoding import TokenRules, strategy_for
from .errors import EngineTimeout
from .layers import Embedding, Linear, replace_parts
from .memory import tune_allocator
from .options import GenerationOptions, GenerationResult, ScoreResult
from .quant import Int8Embedding, Int8Linear, int8_available
from .request import GenerateRequest, Request, ScoreRequest
from .scheduler import Scheduler, on_torch_thread

log = logging.getLogger(__name__)


class Engine:
    """One loaded encoder-decoder model serving every chat concurrently."""

    def __init__(
        self,
        loaded: loader.LoadedModel,
        name: str,
        config: EngineConfig,
        int8_path: Int8Path | None,
    ) -> None:
        """Serve ``loaded``; ``int8_path`` says how its int8 layers run (None: float32).

        Use :meth:`load`: it picks the int8 path once and quantizes while loading.
        """
        self.name, self.config = name, config
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.directory = loaded.directory
        self.max_source_tokens = loaded.max_source_tokens
        # Marian/BART position tables bound the target length too; T5's relative bias does not.
        positions = loaded.model.info.max_source_positions
        limit = config.max_target_tokens
        self.max_target_tokens = min(limit, positions) if positions else limit
        self.max_batch = config.max_batch
        self.timeout = config.timeout
        self.int8, self.int8_path = int8_path is not None, int8_path
        if int8_path and not getattr(self.model, "quantized", False):
            _quantize(self.model, reduce_range=int8_path.reduce_range)
        _log_precision(name, int8_path)
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
            config,
            max_target=self.max_target_tokens,
            max_source=self.max_source_tokens,
        )

    @classmethod
    def load(cls, path_or_hub_id: str, config: EngineConfig | None = None) -> Engine:
        """Load a model (blocking; call it through ``asyncio.to_thread`` from async code).

        ``config`` defaults to :class:`EngineConfig`'s defaults; its ``int8_path`` (default
        ``SEQBOT_ENGINE_INT8_PATH``) picks how int8 layers quantize activations, see
        :mod:`.cpu`.
        """
        config = config or EngineConfig()
        tune_allocator()
        path = _int8_path(config)
        convert = partial(_quantize, reduce_range=path.reduce_range) if path else None

        def load_here() -> loader.LoadedModel:
            if config.threads > 0:
                torch.set_num_threads(config.threads)
            with torch.inference_mode():
                return loader.load(path_or_hub_id, config.cache_dir, convert=convert)

        loaded = on_torch_thread(load_here)
        return cls(loaded, path_or_hub_id, config, path)

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

    def _source(self, text: str, language: str | None = None) -> tuple[list[int], bool]:
        """Source ids (``[language] ... </s>`` with a language token), cut to the limit."""
        ids = self.tokenizer.encode(text, language)
        if len(ids) <= self.max_source_tokens:
            return ids, False
        return [*ids[: self.max_source_tokens - 1], self.model.info.eos_token_id], True

    @property
    def languages(self) -> frozenset[str]:
        """The language codes this model translates between, as its tokenizer spells them.

        NLLB: ``eng_Latn``, ``deu_Latn``, ...; M2M100: ``__en__``, ``__de__``, ... (the
        bare ``en`` is accepted too). Empty for models without language codes.
        """
        return frozenset(self.tokenizer.language_ids)

    def _language_token(self, code: str | None, field: str) -> str | None:
        """The tokenizer's spelling of ``code``, or a ValueError the caller can show."""
        if code is None:
            return None
        known = self.tokenizer.language_ids
        if not known:
            raise ValueError(
                f"{field} {code!r}: the model {self.name} has no language codes "
                "(only multilingual models such as NLLB or M2M100 take languages)"
            )
        for token in (code, f"__{code}__"):
            if token in known:
                return token
        close = difflib.get_close_matches(code, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"{field}: the model {self.name} does not know the language code {code!r}{hint}"
        )

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
        self,
        source: str,
        candidates: list[str],
        *,
        source_language: str | None = None,
        target_language: str | None = None,
        timeout: float | None = None,
    ) -> list[ScoreResult]:
        """Log-probability of each candidate as the output for ``source``, in one batched pass.

        With ``target_language`` (multilingual models) each candidate is scored after its
        language token, the way generation forces it; that token's own log-probability is
        left out of the result, as a forced token costs nothing when generating.
        """
        src = self._language_token(source_language, "source_language")
        tgt = self._language_token(target_language, "target_language")
        if not candidates:
            return []
        ids, truncated = self._source(source, src)
        targets = [self.tokenizer.encode_target(c, tgt) for c in candidates]
        too_long = [
            c for c, t in zip(candidates, targets, strict=True) if len(t) > self.max_target_tokens
        ]
        if too_long:
            raise ValueError(
                f"candidate longer than {self.max_target_tokens} tokens: {too_long[0][:40]!r}"
            )
        loop = asyncio.get_running_loop()
        request = ScoreRequest(ids, loop, loop.create_future(), truncated, candidates=targets)
        results: list[ScoreResult] = await self._submit(request, timeout)
        if tgt is None:
            return results
        return [
            ScoreResult(total=float(sum(r.token_logprobs[1:])), token_logprobs=r.token_logprobs[1:])
            for r in results
        ]

    def _generation_request(self, text: str, options: GenerationOptions | None) -> GenerateRequest:
        opts = options or GenerationOptions()
        opts.validate(self.max_target_tokens, self.max_batch)
        src = self._language_token(opts.source_language, "source_language")
        tgt = self._language_token(opts.target_language, "target_language")
        ids, truncated = self._source(text, src)
        rules = self._rules
        if tgt is not None:  # this request's target language is its first token
            rules = dataclasses.replace(rules, forced_bos=self.tokenizer.language_ids[tgt])
        loop = asyncio.get_running_loop()
        return GenerateRequest(
            ids, loop, loop.create_future(), truncated, strategy=strategy_for(opts, rules)
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


def _quantize(part: Any, reduce_range: bool) -> Any:
    """int8 copy of ``part``: a layer, an embedding, or (last) the whole model's remainder."""
    if isinstance(part, Embedding):
        return Int8Embedding(part)
    if hasattr(part, "fold_norm_scales"):
        part.fold_norm_scales()
    replace_parts(part, Linear, partial(Int8Linear, reduce_range=reduce_range))
    if hasattr(part, "info"):  # the whole model, last: output head and embeddings
        replace_parts(part, Embedding, Int8Embedding)
        part.quantized = True
    return part


def _int8_path(config: EngineConfig) -> Int8Path | None:
    """How int8 layers will run, or None for float32 (asked for, or no int8 in this torch)."""
    if not config.int8:
        return None
    if not int8_available():
        log.warning("int8 linear layers are not available in this torch build; using float32")
        return None
    return choose_int8_path(config.int8_path)


def _log_precision(name: str, path: Int8Path | None) -> None:
    """One line at start saying how this engine computes, so a drift report can be placed."""
    if path is None:
        log.info("engine %s: float32 (int8 off)", name)
        return
    log.info("engine %s: int8 path %s", name, path)
    if path.key == "vnni" and choose_int8_path("auto").key != "vnni":
        log.warning("int8 full range forced on a CPU without VNNI kernels: results will clip")
