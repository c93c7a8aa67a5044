"""Continuous batching off the event loop: the queue, admission, futures and threads.

A request takes free batch slots the moment it is submitted; only requests that find
none wait, and only those count against ``max_queue``. A cancelled or timed-out request
gives its slot or queue place back at once. Each step, the control thread takes the
admitted requests (within a token budget) and hands them to the
:class:`~.runner.ModelRunner` on the shared torch thread, which retires cancelled
requests, encodes the new ones, decodes one token for every live row and retires
finished requests at once; new requests therefore join a batch that is already
decoding. Results go back to each caller's event loop with ``call_soon_threadsafe``; the
event loop never runs model code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch

from .base import Seq2SeqModel
from .config import EngineConfig
from .decoding import TokenRules
from .errors import EngineBusy, EngineClosed, EngineError
from .request import Request
from .runner import ModelRunner

log = logging.getLogger(__name__)
T = TypeVar("T")

ADMIT_TOKEN_BUDGET = 8192  # source tokens encoded per step, so admissions don't stall decoding long

# All model work (loading, quantizing, every step of every engine) runs on one thread.
# Measured: with libgomp, only the first thread that ran a multi-threaded parallel region
# gets a fast OpenMP team; a second "master" thread ran the same decode step 30-50%
# slower. One torch thread also keeps two loaded engines from oversubscribing the cores.
_TORCH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqbot-torch")


def on_torch_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on the shared model thread and wait for it (call from any other thread)."""
    return _TORCH_THREAD.submit(fn, *args).result()


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class Scheduler:
    """Owns the control thread, the waiting queue and the batch slots of one engine.

    It also builds the engine's :class:`~.runner.ModelRunner` and is the runner's
    :class:`~.runner.Outcomes`: the runner reports answers and freed slots back here.
    """

    def __init__(
        self,
        model: Seq2SeqModel,
        decode_text: Callable[[list[int]], str],
        rules: TokenRules,
        config: EngineConfig,
        *,
        max_target: int,
        max_source: int,
    ) -> None:
        """``max_target`` / ``max_source``: the model's token limits, which size the cache."""
        self.max_batch, self.max_queue = config.max_batch, config.max_queue
        # OpenMP team sizes are per calling thread: the worker must set its own, or it
        # may run on fewer threads than the process was configured for.
        self.threads = config.threads if config.threads > 0 else torch.get_num_threads()
        self.counters = {
            "requests": 0,
            "tokens": 0,
            "steps": 0,
            "failed": 0,
            "cancelled": 0,
            "score_passes": 0,  # encoder + teacher-forced decoder passes run for scoring
        }
        self.runner = ModelRunner(
            model,
            decode_text,
            rules,
            self,
            self.counters,
            max_batch=config.max_batch,
            max_target=max_target,
            max_source=max_source,
        )
        # Admitted requests (slots held) first, then those waiting for a slot, in order.
        self._pending: deque[Request] = deque()
        self._used = 0  # slots held by admitted requests, running or about to run
        self._waiting = 0  # requests in _pending without a slot: what max_queue limits
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._draining = False
        self._closed = False  # for good: no restart, every new request refused

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
            self.release(request)
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
                while self._pending or self.runner.active:
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
        return {
            "running": self.running,
            "queue_depth": self._waiting,
            "active_requests": len(self.runner.active),
            "active_sequences": self.runner.rows.n,
            "max_batch": self.max_batch,
            "max_queue": self.max_queue,
            "tokens_per_second": self.runner.tokens_per_second(),
            **self.counters,
        }

    # -- what the runner reports (torch thread; see runner.Outcomes) --------------------
    def resolve(self, req: Request, value: Any, error: BaseException | None = None) -> None:
        """Hand a result or an error to the caller's event loop (settling twice is a no-op)."""
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed; nobody waits
            req.loop.call_soon_threadsafe(_settle, req.future, value, error)

    def release(self, req: Request) -> None:
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

    # -- control thread --------------------------------------------------------------
    def _run(self) -> None:
        """Control loop: waits for work, then runs each step on the shared torch thread."""
        while True:
            with self._cv:
                while not self._stopping and not self._pending and not self.runner.active:
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
                    self.resolve(req, None, error)
                    self.release(req)
                self._fail_all(error, pending=False)
            with self._cv:
                self._cv.notify_all()

    def _torch_step(self, admitted: list[Request]) -> None:
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            self.runner.step(admitted)

    # -- batch slots (callers hold self._cv; it is reentrant) -------------------------------
    def _hold(self, req: Request) -> None:
        req.held = req.slots
        self._used += req.held

    def _take_admissible(self) -> list[Request]:
        """Admitted requests to run this step, within the per-step token budget.

        A generate request costs its source tokens, a score request the token positions of
        its pass alone (:func:`~.request.score_pass_cost`). Score passes group requests of
        similar source length, so the padding they add on top is small.
        """
        taken: list[Request] = []
        # Cancelled rows are retired at the start of the step, before new ones are filled.
        free = self.runner.free_rows()
        budget = ADMIT_TOKEN_BUDGET
        while self._pending and self._pending[0].held:
            req = self._pending[0]
            if req.abandoned:
                self._pending.popleft()
                self.counters["cancelled"] += 1
                self.release(req)
                continue
            if req.rows_needed > free or (taken and req.cost > budget):
                break
            self._pending.popleft()
            taken.append(req)
            free -= req.rows_needed
            budget -= req.cost
        return taken

    def _fail_all(self, error: BaseException, pending: bool = True) -> None:
        """Fail every running request, and with ``pending`` every queued one too."""
        with self._cv:
            doomed = list(self._pending) if pending else []
            if pending:
                self._pending.clear()
                self._waiting = 0
        self.runner.fail_all(error)
        for req in doomed:
            self.resolve(req, None, error)
            self.release(req)
