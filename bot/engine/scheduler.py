"""Continuous batching off the event loop.

A request takes free batch slots the moment it is submitted; only requests that find
none wait, and only those count against ``max_queue``. A cancelled or timed-out request
gives its slot or queue place back at once. Every step: retire cancelled requests, encode
the admitted ones (batched together), decode one token for every live row at its own
position, and retire finished requests at once. New requests therefore join a batch that is already decoding. Results
go back to each caller's event loop with ``call_soon_threadsafe``; the event loop never
runs model code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import torch

from .base import Seq2SeqModel
from .cache import KVCache
from .decoding import Strategy, TokenRules
from .errors import EngineBusy, EngineClosed, EngineError
from .options import GenerationResult, ScoreResult

log = logging.getLogger(__name__)
T = TypeVar("T")

NEG_INF = float("-inf")
# Logits of one teacher-forced decoder call in a score pass: pairs x candidate tokens x
# vocabulary floats. flan-T5's 32k vocabulary fits 500 candidate tokens in one call
# (a 32-message /sentiment burst is ~200); a 250k one (mT5, NLLB) takes a call per ~60.
SCORE_LOGITS_BYTES = 64 << 20
# Token positions (see Scheduler._score_pass_cost) per score pass. Bigger passes got
# slower per request as activations outgrew the caches. benchmarks/scoring.py, 64
# sentiment requests, 1 thread, requests/s at a cap of 256 / 512 / 1024 / 2048 / 4096:
# int8 79 / 95 / 97 / 71 / 62 (one per pass: 76), float32 20 / 27 / 32 / 30 / 27 (18).
SCORE_PASS_TOKENS = 1024
ADMIT_TOKEN_BUDGET = 8192  # source tokens encoded per step, so admissions don't stall decoding long
# A freed row keeps its cache pages up to these lengths (see Scheduler._release_if_large).
KEEP_SOURCE = 256
KEEP_TARGET_POSITIONS = 128
PREFILL_CHUNK_TOKENS = 2048  # padded source tokens per encoder pass (bounds its activations)

# All model work (loading, quantizing, every step of every engine) runs on one thread.
# Measured: with libgomp, only the first thread that ran a multi-threaded parallel region
# gets a fast OpenMP team; a second "master" thread ran the same decode step 30-50%
# slower. One torch thread also keeps two loaded engines from oversubscribing the cores.
_TORCH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqbot-torch")


def on_torch_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on the shared model thread and wait for it (call from any other thread)."""
    return _TORCH_THREAD.submit(fn, *args).result()


@dataclass(eq=False)
class Request:
    kind: Literal["generate", "score"]
    source: list[int]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    truncated: bool = False
    strategy: Strategy | None = None
    candidates: list[list[int]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    position: int = 0  # decoder positions already in the cache
    cancelled: bool = False
    held: int = 0  # batch slots reserved for it; 0 while it waits in the queue

    @property
    def rows_needed(self) -> int:
        return self.strategy.rows if self.strategy else 0

    @property
    def slots(self) -> int:
        """Batch slots it occupies from admission until it leaves; a score takes one."""
        return max(1, self.rows_needed)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class Scheduler:
    """Owns the control thread, the waiting queue and the KV cache rows of one engine."""

    def __init__(
        self,
        model: Seq2SeqModel,
        decode_text: Callable[[list[int]], str],
        rules: TokenRules,
        *,
        max_batch: int,
        max_queue: int,
        max_target: int,
        max_source: int,
        threads: int = 0,
        max_score_batch: int | None = None,
    ) -> None:
        info = model.info
        self.model, self.decode_text = model, decode_text
        self.max_batch, self.max_queue, self.max_target = max_batch, max_queue, max_target
        # OpenMP team sizes are per calling thread: the worker must set its own, or it
        # may run on fewer threads than the process was configured for.
        self.threads = threads if threads > 0 else torch.get_num_threads()
        # Score requests per forward pass, besides score_pass_tokens; None: no limit,
        # 1: one pass per request, as before batching (for benchmarks).
        self.max_score_batch = max_score_batch
        self.score_pass_tokens = SCORE_PASS_TOKENS
        self.cache = KVCache(
            info.layers, max_batch, info.heads, info.head_dim, max_target, max_source
        )
        self._start_token = info.decoder_start_token_id
        self._eos, self._pad, self._banned = (
            info.eos_token_id,
            info.pad_token_id,
            info.bad_token_ids,
        )
        self._rules = rules
        # Admitted requests (slots held) first, then those waiting for a slot, in order.
        self._pending: deque[Request] = deque()
        self._used = 0  # slots held by admitted requests, running or about to run
        self._waiting = 0  # requests in _pending without a slot: what max_queue limits
        self._active: list[Request] = []
        self._owner: list[Request | None] = [None] * max_batch
        self._tokens = [0] * max_batch
        self._positions = [0] * max_batch
        self._source_len = [0] * max_batch
        self._n = 0
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._draining = False
        self._closed = False  # for good: no restart, every new request refused
        self._recent: deque[tuple[float, int]] = deque()
        self.counters = {
            "requests": 0,
            "tokens": 0,
            "steps": 0,
            "failed": 0,
            "cancelled": 0,
            "score_passes": 0,  # encoder + teacher-forced decoder passes run for scoring
        }

    # -- caller side (event loop thread) ---------------------------------------------
    def start(self) -> None:
        with self._cv:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._stopping = self._draining = False
            self._thread = threading.Thread(target=self._run, name="seqbot-engine", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def submit(self, request: Request) -> None:
        """Admit into free batch slots at once; only requests that find none wait in line."""
        with self._cv:
            if self._closed:
                raise EngineClosed()
            if self._stopping or self._draining:
                raise EngineBusy()
            if not self._waiting and self._used + request.slots <= self.max_batch:
                self._hold(request)
            elif self._waiting >= self.max_queue:
                raise EngineBusy()
            else:
                self._waiting += 1
            self._pending.append(request)
            self._cv.notify()

    def cancel(self, request: Request) -> None:
        """Drop an abandoned request from the counts now; the worker frees its rows next step."""
        with self._cv:
            request.cancelled = True
            if request in self._pending:  # not started: nothing on the model thread to undo
                self._pending.remove(request)
                self.counters["cancelled"] += 1
                if not request.held:
                    self._waiting -= 1
            self._release(request)
            self._cv.notify()

    def close(self) -> None:
        """Refuse new requests from now on (non-blocking); :meth:`stop` ends the worker."""
        with self._cv:
            self._closed = True

    def stop(self, drain: bool = False) -> None:
        """Stop the worker (blocking); with ``drain`` finish queued work first."""
        with self._cv:
            if drain:
                self._draining = True
                while self._pending or self._active:
                    self._cv.wait(0.05)
            self._stopping = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join()
        self._fail_all(
            EngineClosed()
            if self._closed
            else EngineBusy("The language model was restarted; please try again.")
        )

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        window = [
            (t, n) for t, n in tuple(self._recent) if now - t <= 10.0
        ]  # worker appends concurrently
        span = now - window[0][0] if window else 0.0
        tokens = sum(n for _, n in window)
        return {
            "running": self.running,
            "queue_depth": self._waiting,
            "active_requests": len(self._active),
            "active_sequences": self._n,
            "max_batch": self.max_batch,
            "max_queue": self.max_queue,
            "tokens_per_second": tokens / span if span > 0 else 0.0,
            **self.counters,
        }

    # -- control thread --------------------------------------------------------------
    def _run(self) -> None:
        """Control loop: waits for work, then runs each step on the shared torch thread."""
        while True:
            with self._cv:
                while not self._stopping and not self._pending and not self._active:
                    self._cv.wait()
                if self._stopping:
                    return
                admitted = self._take_admissible()
            try:
                on_torch_thread(self._torch_step, admitted)
            except Exception as exc:  # a broken step fails its requests, not the worker
                log.exception("engine step failed")
                error = EngineError(f"generation failed: {exc}")
                for req in admitted:  # taken from the queue; settling twice is a no-op
                    self._resolve(req, None, error)
                    self._release(req)
                self._fail_all(error, pending=False)
            with self._cv:
                self._cv.notify_all()

    def _torch_step(self, admitted: list[Request]) -> None:
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            self._step(admitted)

    # -- batch slots (callers hold self._cv; it is reentrant) -------------------------------
    def _hold(self, req: Request) -> None:
        req.held = req.slots
        self._used += req.held

    def _release(self, req: Request) -> None:
        """Give back a request's slots (idempotent) and admit waiting requests into them."""
        with self._cv:
            if not req.held:
                return
            self._used -= req.held
            req.held = 0
            for waiting in self._pending:
                if waiting.held:
                    continue
                if self._used + waiting.slots > self.max_batch:
                    break  # first come, first served: nobody overtakes a wide beam request
                self._hold(waiting)
                self._waiting -= 1
            self._cv.notify()

    def _take_admissible(self) -> list[Request]:
        """Admitted requests to run this step, within the per-step token budget.

        A generate request costs its source tokens, a score request the token positions of
        its pass alone (:meth:`_score_pass_cost`). Score passes group requests of similar
        source length, so the padding they add on top is small.
        """
        taken: list[Request] = []
        # Cancelled rows are retired at the start of the step, before new ones are filled.
        free = self.max_batch - sum(len(r.rows) for r in self._active if not r.cancelled)
        budget = ADMIT_TOKEN_BUDGET
        while self._pending and self._pending[0].held:
            req = self._pending[0]
            if req.cancelled or req.future.done():
                self._pending.popleft()
                self.counters["cancelled"] += 1
                self._release(req)
                continue
            cost = self._score_pass_cost([req]) if req.kind == "score" else len(req.source)
            if req.rows_needed > free or (taken and cost > budget):
                break
            self._pending.popleft()
            taken.append(req)
            free -= req.rows_needed
            budget -= cost
        return taken

    def _step(self, admitted: list[Request]) -> None:
        for req in [r for r in self._active if r.cancelled or r.future.done()]:
            self.counters["cancelled"] += 1
            self._retire(req)
        self._compact()
        new, scores = [], []
        for req in admitted:
            if req.cancelled or req.future.done():  # abandoned after it was taken
                self.counters["cancelled"] += 1
                self._release(req)
            elif req.kind == "score":
                scores.append(req)
            else:
                new.append(req)
        if scores:
            self._score_batch(scores)
        if new:
            self._prefill(new)
        if self._n:
            self._decode()

    def _guard(self, req: Request, fn: Callable[..., Any], *args: Any) -> bool:
        try:
            fn(*args)
            return True
        except Exception as exc:
            log.exception("engine request failed")
            self.counters["failed"] += 1
            self._resolve(req, None, EngineError(f"generation failed: {exc}"))
            if req in self._active:
                self._retire(req)
            return False

    def _resolve(self, req: Request, value: Any, error: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed; nobody waits
            req.loop.call_soon_threadsafe(_settle, req.future, value, error)

    def _fail_all(self, error: BaseException, pending: bool = True) -> None:
        with self._cv:
            doomed = list(self._active) + (list(self._pending) if pending else [])
            if pending:
                self._pending.clear()
                self._waiting = 0
        for req in doomed:
            self._resolve(req, None, error)
            if req in self._active:
                self._retire(req)
            self._release(req)
        self._compact()

    # -- admission ---------------------------------------------------------------------
    def _prefill(self, requests: list[Request]) -> None:
        """Give the admitted requests rows, then encode them in chunks of similar length.

        Chunks of at most ``PREFILL_CHUNK_TOKENS`` padded source tokens bound the encoder's
        activations (a 32 x 256-token admission in one pass took ~300 MB more peak
        memory), and sorting by length means each row's cross-attention K/V is written
        only to about its own length: padding would otherwise touch cache pages too.
        """
        requests.sort(key=lambda r: len(r.source))
        for req in requests:
            req.rows = list(range(self._n, self._n + req.rows_needed))
            for row in req.rows:
                self._owner[row] = req
                self._tokens[row], self._positions[row] = self._start_token, 0
                self._source_len[row] = len(req.source)
            self._n += req.rows_needed
            self._active.append(req)
        chunk: list[Request] = []
        failed = False
        for req in requests:  # ascending length: the newest member is the widest
            if chunk and (len(chunk) + 1) * len(req.source) > PREFILL_CHUNK_TOKENS:
                failed |= not self._encode(chunk)
                chunk = []
            chunk.append(req)
        failed |= not self._encode(chunk)
        if failed:
            self._compact()

    def _encode(self, requests: list[Request]) -> bool:
        """One encoder pass into the requests' rows; a failure fails only these requests."""
        width = len(requests[-1].source)
        ids = torch.full((len(requests), width), self._pad, dtype=torch.long)
        for i, req in enumerate(requests):
            ids[i, : len(req.source)] = torch.tensor(req.source)
        lengths = torch.tensor([len(r.source) for r in requests])
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
                self._resolve(req, None, EngineError(f"encoding failed: {exc}"))
                self._retire(req)
            return False

    # -- one decode step -----------------------------------------------------------------
    def _decode(self) -> None:
        n = self._n
        positions = self._positions[:n]
        logits = self.model.decode_step(
            self.cache,
            torch.tensor(self._tokens[:n]),
            torch.tensor(positions),
            max(positions) + 1,
        )
        argmax = self._shared_argmax(logits)
        produced = 0
        for req in list(self._active):
            rows = len(req.rows)
            if self._guard(req, self._advance, req, logits, argmax):
                produced += rows
        self._compact()
        self.counters["steps"] += 1
        self.counters["tokens"] += produced
        now = time.monotonic()
        self._recent.append((now, produced))
        while self._recent and now - self._recent[0][0] > 10.0:
            self._recent.popleft()

    def _shared_argmax(self, logits: torch.Tensor) -> list[int]:
        """Greedy tokens for all rows in one op; rows needing processors decode separately."""
        plain = all(not r.strategy.needs_own_logits for r in self._active if r.strategy)
        masked = logits if plain else logits.clone()
        if self._banned:
            masked[:, self._banned] = NEG_INF
        early = [
            row
            for r in self._active
            if r.strategy and r.strategy.generated < r.strategy.opts.min_new_tokens
            for row in r.rows
        ]
        if early:
            masked[early, self._eos] = NEG_INF
        tokens = masked.argmax(-1).tolist()
        for req in self._active:
            if req.strategy is not None:
                # The request's own rules: its target language may force its first token.
                forced = req.strategy.rules.forced(
                    req.strategy.generated, req.strategy.opts.max_new_tokens
                )
                if forced is not None:
                    for row in req.rows:
                        tokens[row] = forced
        return tokens

    def _advance(self, req: Request, logits: torch.Tensor, argmax: list[int]) -> None:
        strategy = req.strategy
        assert strategy is not None
        rows = req.rows
        own = logits[rows] if strategy.needs_own_logits else logits[:0]
        step = strategy.select(own, [argmax[r] for r in rows])
        req.position += 1
        if step.parents is not None:
            sources = [rows[p] for p in step.parents]
            if sources != rows:
                self.cache.reorder(rows, sources, req.position)
        for row, token in zip(rows, step.tokens, strict=True):
            self._tokens[row] = token
            self._positions[row] = req.position
        if step.done or req.position >= self.max_target:
            ids, reason = strategy.result()
            self.counters["requests"] += 1
            self._resolve(req, GenerationResult(self.decode_text(ids), ids, req.truncated, reason))
            self._retire(req)

    # -- rows ------------------------------------------------------------------------------
    def _retire(self, req: Request) -> None:
        for row in req.rows:
            self._owner[row] = None
        req.rows = []
        if req in self._active:
            self._active.remove(req)
        self._release(req)

    def _compact(self) -> None:
        """Move live tail rows into holes so live rows are exactly ``0..n-1``."""
        live = sum(1 for r in self._active for _ in r.rows)
        holes = [r for r in range(live) if self._owner[r] is None]
        movers = [r for r in range(live, self._n) if self._owner[r] is not None]
        for dst, src in zip(holes, movers, strict=True):
            owner = self._owner[src]
            assert owner is not None
            self._release_if_large(dst)
            self.cache.move_row(src, dst, self._positions[src])
            self._tokens[dst], self._positions[dst] = self._tokens[src], self._positions[src]
            self._source_len[dst] = self._source_len[src]
            self._owner[dst], self._owner[src] = owner, None
            owner.rows[owner.rows.index(src)] = dst
        for row in range(live, self._n):
            self._release_if_large(row)
        self._n = live

    def _release_if_large(self, row: int) -> None:
        """Give a free row's cache pages back if its last sequence was a long one.

        Rows within the usual lengths stay resident: handing pages back and faulting
        them in again for the next request cost 15-20% of throughput (the kernel zeroes
        every page), while a batch of usual requests needs those pages anyway. A long
        sequence's pages go, so memory never holds many rows at their longest.
        """
        if self._positions[row] > KEEP_TARGET_POSITIONS or self._source_len[row] > KEEP_SOURCE:
            self.cache.release_rows(row, row + 1)
            self._positions[row] = self._source_len[row] = 0

    # -- scoring ---------------------------------------------------------------------------
    @staticmethod
    def _score_pass_cost(requests: list[Request]) -> int:
        """Token positions one score pass runs through the model, padding included.

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

    def _score_batch(self, requests: list[Request]) -> None:
        """Score a step's requests in passes of similar source length; a failed pass retries.

        Sorting by length keeps padding small; passes are capped by ``score_pass_tokens``
        (bigger ones were slower per request, see ``SCORE_PASS_TOKENS``) and
        ``max_score_batch``. Retrying a failed pass one request at a time keeps what
        scoring each request separately guaranteed: a request that breaks the model (or
        runs out of memory) fails by itself, not with the others that shared its pass.
        """
        limit, cap = self.max_score_batch or len(requests), self.score_pass_tokens
        groups: list[list[Request]] = [[]]
        for req in sorted(requests, key=lambda r: len(r.source)):
            group = groups[-1]
            if group and (len(group) >= limit or self._score_pass_cost([*group, req]) > cap):
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
            self._release(req)

    def _score(self, requests: list[Request]) -> None:
        """One encoder pass over all sources, one decoder pass over all candidates.

        Each (request, candidate) pair is a decoder row reading its own source's encoder
        states, so a row's numbers do not depend on what else is in the pass (up to
        float rounding; with int8 the activation scale is per call, so slightly). The
        decoder pass is split into calls of at most ``SCORE_LOGITS_BYTES`` of logits.
        Results are handed back only after the whole pass succeeded, so a retry never
        answers twice.
        """
        self.counters["score_passes"] += 1
        width = max(len(r.source) for r in requests)
        src = torch.full((len(requests), width), self._pad, dtype=torch.long)
        for i, req in enumerate(requests):
            src[i, : len(req.source)] = torch.tensor(req.source)
        lengths = torch.tensor([len(r.source) for r in requests])
        hidden = self.model.encode(src, lengths)
        pairs = [(i, cand) for i, req in enumerate(requests) for cand in req.candidates]
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
        answers: list[list[ScoreResult]] = [[] for _ in requests]
        for row, (i, cand) in enumerate(pairs):
            per_token = table[row][: len(cand)]
            answers[i].append(ScoreResult(total=float(sum(per_token)), token_logprobs=per_token))
        self.counters["requests"] += len(requests)
        for req, results in zip(requests, answers, strict=True):
            self._resolve(req, results)
