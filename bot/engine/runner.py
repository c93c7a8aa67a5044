"""The model side of continuous batching: rows, prefill, one decode step, scoring passes.

The :class:`~.scheduler.Scheduler` decides *what* runs (queue, admission, slots) and owns
every caller's future; the :class:`ModelRunner` decides *how* it runs and does it, on the
shared torch thread. The boundary is one call and two callbacks:

- ``runner.step(admitted)``: retire abandoned requests, score the admitted score
  requests, give the admitted generate requests rows and encode them, decode one token
  for every live row.
- ``outcomes.resolve(request, value, error)``: a request's answer (or failure), reported
  the moment it exists, so a score result does not wait for the decode step after it.
- ``outcomes.release(request)``: the request left the batch; its slots are free.

The runner never touches an event loop or a future's result, and the scheduler never
touches a row or the model.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import torch

from .base import Seq2SeqModel
from .cache import KVCache
from .decoding import TokenRules, shared_argmax
from .errors import EngineError
from .options import GenerationResult, ScoreResult
from .request import GenerateRequest, Request, ScoreRequest, score_pass_cost

log = logging.getLogger(__name__)

# Logits of one teacher-forced decoder call in a score pass: pairs x candidate tokens x
# vocabulary floats. flan-T5's 32k vocabulary fits 500 candidate tokens in one call
# (a 32-message /sentiment burst is ~200); a 250k one (mT5, NLLB) takes a call per ~60.
SCORE_LOGITS_BYTES = 64 << 20
# Token positions (see request.score_pass_cost) per score pass. Bigger passes got
# slower per request as activations outgrew the caches. benchmarks/scoring.py, 64
# sentiment requests, 1 thread, requests/s at a cap of 256 / 512 / 1024 / 2048 / 4096:
# int8 79 / 95 / 97 / 71 / 62 (one per pass: 76), float32 20 / 27 / 32 / 30 / 27 (18).
SCORE_PASS_TOKENS = 1024
# A freed row keeps its cache pages up to these lengths (see Rows._release_if_large).
KEEP_SOURCE = 256
KEEP_TARGET_POSITIONS = 128
PREFILL_CHUNK_TOKENS = 2048  # padded source tokens per encoder pass (bounds its activations)
RATE_WINDOW = 10.0  # seconds of decode steps behind stats()["tokens_per_second"]


class Outcomes(Protocol):
    """What the runner reports back; the scheduler implements it (see the module doc)."""

    def resolve(self, req: Request, value: Any, error: BaseException | None = None) -> None: ...

    def release(self, req: Request) -> None: ...


class Rows:
    """The decoder rows of one engine, as parallel lists indexed by KV cache row.

    Row ``i`` of ``owner``, ``tokens``, ``positions`` and ``source_len`` describes cache
    row ``i``: the sequence decoding there, the token it is fed at the next decode step,
    its decoder position (tokens already in its self-attention cache, which is also where
    that token's K/V will be written) and the source length whose cross-attention K/V it
    holds. The rules:

    - **Live rows.** ``owner[i]`` is the request decoding in row ``i``, ``None`` for a
      free row; the request lists its rows in ``req.rows`` (beam order). Only rows
      ``0..n-1`` can be live. Between steps (after :meth:`compact`) they are *exactly*
      ``0..n-1``, so a decode step feeds ``tokens[:n]`` at ``positions[:n]`` and attends
      over plain cache slices.
    - **Holes.** Freeing a request (:meth:`free`) only sets its owners to ``None``: ``n``
      stays, holes open, and ``positions`` / ``source_len`` keep the last sequence's
      values so :meth:`compact` can tell whether a free row's pages are worth keeping.
    - **Compaction** moves live tail rows into the holes (K/V, token, position, source
      length and owner, and the owner's ``rows`` entry), then sets ``n`` to the live
      count. The runner compacts at step boundaries only: after retiring abandoned
      requests, after a failed encoder pass, after each decode step. Never while a
      request's rows are being read, as by beam reordering.
    - **Writers.** Only the runner writes these lists, on the torch thread during a
      step. The one exception is :meth:`ModelRunner.fail_all`, which the scheduler calls
      from its own thread when no step can be running (the step raised, or the worker
      stopped). ``stats()`` reads ``n`` from any thread.
    """

    def __init__(self, cache: KVCache, size: int) -> None:
        self.cache = cache
        self.owner: list[GenerateRequest | None] = [None] * size
        self.tokens = [0] * size
        self.positions = [0] * size
        self.source_len = [0] * size
        self.n = 0

    def add(self, req: GenerateRequest, start_token: int) -> None:
        """Give ``req`` its rows at the tail, each fed the decoder start token first."""
        req.rows = list(range(self.n, self.n + req.rows_needed))
        for row in req.rows:
            self.owner[row] = req
            self.tokens[row], self.positions[row] = start_token, 0
            self.source_len[row] = len(req.source)
        self.n += req.rows_needed

    def feed(self, req: GenerateRequest, tokens: list[int]) -> None:
        """The tokens ``req``'s rows take at the next step, at position ``req.position``."""
        for row, token in zip(req.rows, tokens, strict=True):
            self.tokens[row] = token
            self.positions[row] = req.position

    def free(self, req: GenerateRequest) -> None:
        """Turn ``req``'s rows into holes (see the class doc); :meth:`compact` fills them."""
        for row in req.rows:
            self.owner[row] = None
        req.rows = []

    def compact(self) -> None:
        """Move live tail rows into holes so live rows are exactly ``0..n-1``."""
        live = sum(1 for row in range(self.n) if self.owner[row] is not None)
        holes = [r for r in range(live) if self.owner[r] is None]
        movers = [r for r in range(live, self.n) if self.owner[r] is not None]
        for dst, src in zip(holes, movers, strict=True):
            owner = self.owner[src]
            assert owner is not None
            self._release_if_large(dst)
            self.cache.move_row(src, dst, self.positions[src])
            self.tokens[dst], self.positions[dst] = self.tokens[src], self.positions[src]
            self.source_len[dst] = self.source_len[src]
            self.owner[dst], self.owner[src] = owner, None
            owner.rows[owner.rows.index(src)] = dst
        for row in range(live, self.n):
            self._release_if_large(row)
        self.n = live

    def _release_if_large(self, row: int) -> None:
        """Give a free row's cache pages back if its last sequence was a long one.

        Rows within the usual lengths stay resident: handing pages back and faulting
        them in again for the next request cost 15-20% of throughput (the kernel zeroes
        every page), while a batch of usual requests needs those pages anyway. A long
        sequence's pages go, so memory never holds many rows at their longest.
        """
        if self.positions[row] > KEEP_TARGET_POSITIONS or self.source_len[row] > KEEP_SOURCE:
            self.cache.release_rows(row, row + 1)
            self.positions[row] = self.source_len[row] = 0


class ModelRunner:
    """Runs admitted requests on one model: its rows, its KV cache and its passes."""

    def __init__(
        self,
        model: Seq2SeqModel,
        decode_text: Callable[[list[int]], str],
        rules: TokenRules,
        outcomes: Outcomes,
        counters: dict[str, int],
        *,
        max_batch: int,
        max_target: int,
        max_source: int,
    ) -> None:
        info = model.info
        self.model, self.decode_text, self.rules = model, decode_text, rules
        self.outcomes, self.counters = outcomes, counters
        self.max_target = max_target
        self.cache = KVCache(
            info.layers, max_batch, info.heads, info.head_dim, max_target, max_source
        )
        self.rows = Rows(self.cache, max_batch)
        self.active: list[GenerateRequest] = []  # requests that own rows
        # Score requests per forward pass, besides score_pass_tokens; None: no limit,
        # 1: one pass per request, as before batching (for benchmarks).
        self.max_score_batch: int | None = None
        self.score_pass_tokens = SCORE_PASS_TOKENS
        self._start_token = info.decoder_start_token_id
        self._pad = info.pad_token_id
        self._recent: deque[tuple[float, int]] = deque()  # (time, tokens) per decode step

    # -- read by the scheduler's control thread, between steps ----------------------------
    def free_rows(self) -> int:
        """Rows free for new requests once the next step has retired the cancelled ones."""
        return len(self.rows.owner) - sum(len(r.rows) for r in self.active if not r.cancelled)

    def tokens_per_second(self) -> float:
        now = time.monotonic()
        window = [(t, n) for t, n in tuple(self._recent) if now - t <= RATE_WINDOW]
        span = now - window[0][0] if window else 0.0
        return sum(n for _, n in window) / span if span > 0 else 0.0

    # -- one step (torch thread) --------------------------------------------------------
    def step(self, admitted: list[Request]) -> None:
        """Retire abandoned requests, run admitted scores, prefill admitted generations, decode."""
        for req in [r for r in self.active if r.abandoned]:
            self.counters["cancelled"] += 1
            self.retire(req)
        self.rows.compact()
        new: list[GenerateRequest] = []
        scores: list[ScoreRequest] = []
        for req in admitted:
            if req.abandoned:  # abandoned after it was taken
                self.counters["cancelled"] += 1
                self.outcomes.release(req)
            elif isinstance(req, ScoreRequest):
                scores.append(req)
            else:
                assert isinstance(req, GenerateRequest)
                new.append(req)
        if scores:
            self._score_batch(scores)
        if new:
            self._prefill(new)
        if self.rows.n:
            self._decode()

    def retire(self, req: GenerateRequest) -> None:
        """Take a request out of the batch: its rows become holes, its slots are released."""
        self.rows.free(req)
        if req in self.active:
            self.active.remove(req)
        self.outcomes.release(req)

    def fail_all(self, error: BaseException) -> None:
        """Fail and retire every running request (a broken step, or the engine stopping)."""
        for req in list(self.active):
            self.outcomes.resolve(req, None, error)
            self.retire(req)
        self.rows.compact()

    def _guard(self, req: Request, fn: Callable[..., Any], *args: Any) -> bool:
        """Run one request's part of a step; an exception fails that request alone."""
        try:
            fn(*args)
            return True
        except Exception as exc:
            log.exception("engine request failed")
            self.counters["failed"] += 1
            self.outcomes.resolve(req, None, EngineError(f"generation failed: {exc}"))
            if req in self.active:
                assert isinstance(req, GenerateRequest)
                self.retire(req)
            return False

    # -- admission ---------------------------------------------------------------------
    def _prefill(self, requests: list[GenerateRequest]) -> None:
        """Give the admitted requests rows, then encode them in chunks of similar length.

        Chunks of at most ``PREFILL_CHUNK_TOKENS`` padded source tokens bound the encoder's
        activations (a 32 x 256-token admission in one pass took ~300 MB more peak
        memory), and sorting by length means each row's cross-attention K/V is written
        only to about its own length: padding would otherwise touch cache pages too.
        """
        requests.sort(key=lambda r: len(r.source))
        for req in requests:
            self.rows.add(req, self._start_token)
            self.active.append(req)
        chunk: list[GenerateRequest] = []
        failed = False
        for req in requests:  # ascending length: the newest member is the widest
            if chunk and (len(chunk) + 1) * len(req.source) > PREFILL_CHUNK_TOKENS:
                failed |= not self._encode(chunk)
                chunk = []
            chunk.append(req)
        failed |= not self._encode(chunk)
        if failed:
            self.rows.compact()

    def _sources(self, requests: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, S]`` source ids padded to the longest, and their lengths."""
        width = max(len(r.source) for r in requests)
        ids = torch.full((len(requests), width), self._pad, dtype=torch.long)
        for i, req in enumerate(requests):
            ids[i, : len(req.source)] = torch.tensor(req.source)
        return ids, torch.tensor([len(r.source) for r in requests])

    def _encode(self, requests: list[GenerateRequest]) -> bool:
        """One encoder pass into the requests' rows; a failure fails only these requests."""
        ids, lengths = self._sources(requests)
        owners = [i for i, req in enumerate(requests) for _ in req.rows]
        rows = [row for req in requests for row in req.rows]
        try:
            hidden = self.model.encode(ids, lengths)
            pick = torch.tensor(owners)
            self.model.fill_cross(
                self.cache,
                torch.tensor(rows),
                hidden.index_select(0, pick),
                lengths.index_select(0, pick),
            )
            return True
        except Exception as exc:
            log.exception("encoder pass failed")
            for req in requests:
                self.counters["failed"] += 1
                self.outcomes.resolve(req, None, EngineError(f"encoding failed: {exc}"))
                self.retire(req)
            return False

    # -- one decode step -----------------------------------------------------------------
    def _decode(self) -> None:
        n = self.rows.n
        positions = self.rows.positions[:n]
        logits = self.model.decode_step(
            self.cache,
            torch.tensor(self.rows.tokens[:n]),
            torch.tensor(positions),
            max(positions) + 1,
        )
        argmax = shared_argmax(logits, [(r.strategy, r.rows) for r in self.active], self.rules)
        produced = 0
        for req in list(self.active):
            rows = len(req.rows)
            if self._guard(req, self._advance, req, logits, argmax):
                produced += rows
        self.rows.compact()
        self.counters["steps"] += 1
        self.counters["tokens"] += produced
        now = time.monotonic()
        self._recent.append((now, produced))
        while self._recent and now - self._recent[0][0] > RATE_WINDOW:
            self._recent.popleft()

    def _advance(self, req: GenerateRequest, logits: torch.Tensor, argmax: list[int]) -> None:
        """One request's next tokens from this step's logits; answers it when done."""
        strategy = req.strategy
        rows = req.rows
        own = logits[rows] if strategy.needs_own_logits else logits[:0]
        step = strategy.select(own, [argmax[r] for r in rows])
        req.position += 1
        if step.parents is not None:
            sources = [rows[p] for p in step.parents]
            if sources != rows:
                self.cache.reorder(rows, sources, req.position)
        self.rows.feed(req, step.tokens)
        if step.done or req.position >= self.max_target:
            ids, reason = strategy.result()
            self.counters["requests"] += 1
            text = self.decode_text(ids)
            self.outcomes.resolve(req, GenerationResult(text, ids, req.truncated, reason))
            self.retire(req)

    # -- scoring ---------------------------------------------------------------------------
    def _score_batch(self, requests: list[ScoreRequest]) -> None:
        """Score a step's requests in passes of similar source length; a failed pass retries.

        Sorting by length keeps padding small; passes are capped by ``score_pass_tokens``
        (bigger ones were slower per request, see ``SCORE_PASS_TOKENS``) and
        ``max_score_batch``. Retrying a failed pass one request at a time keeps what
        scoring each request separately guaranteed: a request that breaks the model (or
        runs out of memory) fails by itself, not with the others that shared its pass.
        """
        limit, cap = self.max_score_batch or len(requests), self.score_pass_tokens
        groups: list[list[ScoreRequest]] = [[]]
        for req in sorted(requests, key=lambda r: len(r.source)):
            group = groups[-1]
            if group and (len(group) >= limit or score_pass_cost([*group, req]) > cap):
                groups.append(group := [])
            group.append(req)
        for group in groups:
            if len(group) > 1:
                try:
                    self._score(group)
                    continue
                except Exception:
                    log.warning(
                        "scoring %d requests together failed; scoring them one by one",
                        len(group),
                        exc_info=True,
                    )
            for req in group:
                self._guard(req, self._score, [req])
        for req in requests:
            self.outcomes.release(req)

    def _score(self, requests: list[ScoreRequest]) -> None:
        """One encoder pass over all sources, one decoder pass over all candidates.

        Each (request, candidate) pair is a decoder row reading its own source's encoder
        states, so a row's numbers do not depend on what else is in the pass (up to
        float rounding; with int8 the activation scale is per call, so slightly).
        Results are handed back only after the whole pass succeeded, so a retry never
        answers twice.
        """
        self.counters["score_passes"] += 1
        src, lengths = self._sources(requests)
        hidden = self.model.encode(src, lengths)
        pairs = [(i, cand) for i, req in enumerate(requests) for cand in req.candidates]
        table = self._candidate_logprobs(hidden, lengths, pairs)
        answers: list[list[ScoreResult]] = [[] for _ in requests]
        for row, (i, cand) in enumerate(pairs):
            per_token = table[row][: len(cand)]
            answers[i].append(ScoreResult(total=float(sum(per_token)), token_logprobs=per_token))
        self.counters["requests"] += len(requests)
        for req, results in zip(requests, answers, strict=True):
            self.outcomes.resolve(req, results)

    def _candidate_logprobs(
        self, hidden: torch.Tensor, lengths: torch.Tensor, pairs: list[tuple[int, list[int]]]
    ) -> list[list[float]]:
        """Teacher-forced log-probability of each candidate token, one row per pair.

        Pair ``(i, candidate)`` reads source ``i``'s encoder states. The decoder pass is
        split into calls of at most ``SCORE_LOGITS_BYTES`` of logits.
        """
        count, target = len(pairs), max(len(cand) for _, cand in pairs)
        inputs = torch.full((count, target), self._pad, dtype=torch.long)
        labels = torch.zeros((count, target), dtype=torch.long)
        for row, (_, cand) in enumerate(pairs):
            inputs[row, : len(cand)] = torch.tensor([self._start_token, *cand[:-1]])
            labels[row, : len(cand)] = torch.tensor(cand)
        owner = torch.tensor([i for i, _ in pairs])
        step = max(1, SCORE_LOGITS_BYTES // (4 * target * self.model.info.vocab_size))
        table: list[list[float]] = []
        for start in range(0, count, step):  # bounded logits memory, whatever the vocabulary
            part, pick = slice(start, start + step), owner[start : start + step]
            logits = self.model.decode_full(
                hidden.index_select(0, pick), lengths.index_select(0, pick), inputs[part]
            )
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            table += logprobs.gather(-1, labels[part, :, None])[..., 0].tolist()
        return table
