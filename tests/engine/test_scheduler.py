"""The worker thread: continuous batching, limits and failures, seen from the caller."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine import (
    Engine,
    EngineBusy,
    EngineConfig,
    EngineError,
    EngineTimeout,
    GenerationOptions,
    decoding,
)
from bot.engine.scheduler import on_torch_thread
from bot.errors import ServiceUnavailable
from tests.fixtures.checkpoints import SENTENCES

from .test_equality import reference

LONG = GenerationOptions(max_new_tokens=400, min_new_tokens=400)


async def wait_until(predicate, limit: float = 30.0) -> None:
    """Poll instead of sleeping a fixed time, so tests don't depend on machine speed."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the state lives on the worker thread
            await asyncio.sleep(0.005)


@contextlib.contextmanager
def model_thread_paused() -> Iterator[None]:
    """Hold the shared model thread, so no engine step runs and queue counts stay exact.

    Load engines before entering: loading runs on the same thread.
    """
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        release.wait()

    holder = threading.Thread(target=on_torch_thread, args=(hold,))
    holder.start()
    holding.wait()
    try:
        yield
    finally:
        release.set()
        holder.join()


async def submitted() -> None:
    """Let every task created so far run to its first await, where it has submitted or failed."""
    await asyncio.sleep(0)


@pytest.fixture
async def engine(flan_dir: Path):
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=8, max_queue=4))
    yield engine
    await engine.stop()


async def test_requests_joining_a_running_batch_match_their_solo_outputs(engine: Engine) -> None:
    plans = [
        (SENTENCES[0], GenerationOptions(max_new_tokens=30, min_new_tokens=30)),
        (SENTENCES[1], GenerationOptions(max_new_tokens=12)),
        ("hi", GenerationOptions(max_new_tokens=20, num_beams=3)),
        (SENTENCES[5], GenerationOptions(max_new_tokens=5, repetition_penalty=1.5)),
        (SENTENCES[7], GenerationOptions(max_new_tokens=9, do_sample=True, seed=7, top_k=5)),
    ]
    alone = [await engine.generate(text, opts) for text, opts in plans]
    first = asyncio.create_task(engine.generate(*plans[0]))
    await wait_until(lambda: engine.stats()["tokens"] >= sum(len(r.token_ids) for r in alone) + 5)
    later = []
    for text, opts in plans[1:]:
        later.append(asyncio.create_task(engine.generate(text, opts)))
        await asyncio.sleep(0.01)
    together = [await first, *await asyncio.gather(*later)]
    assert [r.token_ids for r in together] == [r.token_ids for r in alone]
    await wait_until(lambda: engine.stats()["active_sequences"] == 0)


async def test_cancelled_request_frees_its_slot(engine: Engine) -> None:
    task = asyncio.create_task(engine.generate(SENTENCES[0], LONG))
    await wait_until(lambda: engine.stats()["active_sequences"] == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: engine.stats()["active_sequences"] == 0)
    result = await engine.generate("hi", GenerationOptions(max_new_tokens=3, min_new_tokens=3))
    assert len(result.token_ids) == 3


async def test_timeout_raises_a_user_error_and_frees_the_slot(engine: Engine) -> None:
    with pytest.raises(EngineTimeout) as info:
        await engine.generate(SENTENCES[0], LONG, timeout=0.05)
    assert isinstance(info.value, ServiceUnavailable)
    assert "try again" in str(info.value)
    await wait_until(lambda: engine.stats()["active_sequences"] == 0)


async def test_full_queue_says_busy_and_the_rest_complete(flan_dir: Path) -> None:
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=1, max_queue=2))
    try:
        opts = GenerationOptions(max_new_tokens=40, min_new_tokens=40)
        tasks = [asyncio.create_task(engine.generate(SENTENCES[i], opts)) for i in range(4)]
        *done, busy = await asyncio.gather(*tasks, return_exceptions=True)
        # The first takes the one row, the next two wait, the fourth finds the queue full.
        assert isinstance(busy, EngineBusy)
        assert str(busy) == "The language model is busy right now; please try again in a minute."
        assert [len(r.token_ids) for r in done] == [40, 40, 40]
    finally:
        await engine.stop()


async def test_a_failing_request_does_not_take_down_the_others(
    engine: Engine, flan_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = decoding.Greedy.select

    def flaky(self, logits, argmax):
        if self.opts.max_new_tokens == 7:
            raise RuntimeError("boom")
        return original(self, logits, argmax)

    monkeypatch.setattr(decoding.Greedy, "select", flaky)
    good = GenerationOptions(max_new_tokens=6)
    results = await asyncio.gather(
        engine.generate(SENTENCES[0], good),
        engine.generate(SENTENCES[1], GenerationOptions(max_new_tokens=7)),
        engine.generate(SENTENCES[2], good),
        return_exceptions=True,
    )
    assert isinstance(results[1], EngineError)
    for i in (0, 2):
        assert results[i].token_ids == reference(flan_dir, engine, SENTENCES[i], max_new_tokens=6)
    assert engine.stats()["failed"] == 1


async def test_over_long_input_is_truncated_and_flagged(engine: Engine) -> None:
    text = " ".join(SENTENCES)
    assert engine.count_tokens(text) > engine.max_source_tokens == 64
    result = await engine.generate(text, GenerationOptions(max_new_tokens=3))
    assert result.truncated
    short = await engine.generate(SENTENCES[0], GenerationOptions(max_new_tokens=3))
    assert not short.truncated


async def test_bad_options_fail_before_queueing(engine: Engine) -> None:
    with pytest.raises(ValueError, match="top_p"):
        await engine.generate("hi", GenerationOptions(do_sample=True, top_p=0))
    assert engine.stats()["queue_depth"] == 0


async def test_sampling_is_reproducible_with_a_seed(engine: Engine) -> None:
    opts = GenerationOptions(max_new_tokens=15, do_sample=True, temperature=1.5, top_p=0.9, seed=3)
    first, second = await engine.generate_batch([SENTENCES[2], SENTENCES[2]], opts)
    assert first.token_ids == second.token_ids
    greedy = await engine.generate(SENTENCES[2], GenerationOptions(max_new_tokens=15))
    top1 = await engine.generate(
        SENTENCES[2], GenerationOptions(max_new_tokens=15, do_sample=True, top_k=1)
    )
    assert top1.token_ids == greedy.token_ids


async def test_stats_and_restart(engine: Engine, flan_dir: Path) -> None:
    await engine.generate("hi", GenerationOptions(max_new_tokens=4, min_new_tokens=4))
    await wait_until(lambda: engine.stats()["tokens"] == 4)  # counted after results are handed back
    stats = engine.stats()
    assert {"queue_depth", "active_sequences", "tokens_per_second", "requests"} <= stats.keys()
    assert stats["requests"] == 1 and stats["tokens"] == 4
    await engine.stop()
    result = await engine.generate("hi", GenerationOptions(max_new_tokens=2))
    assert result.token_ids == reference(flan_dir, engine, "hi", max_new_tokens=2)


async def test_a_burst_fills_the_free_rows_and_only_waiting_requests_count(flan_dir: Path) -> None:
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=32, max_queue=4))
    opts = GenerationOptions(max_new_tokens=2)
    try:
        with model_thread_paused():
            tasks = [
                asyncio.create_task(engine.generate(SENTENCES[i % len(SENTENCES)], opts))
                for i in range(64)
            ]
            await submitted()
            refused = [t for t in tasks if t.done() and isinstance(t.exception(), EngineBusy)]
            assert len(refused) == 64 - 32 - 4  # 32 free rows taken at once, 4 wait
            assert engine.stats()["queue_depth"] == 4
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [not isinstance(r, BaseException) for r in results] == [True] * 36 + [False] * 28
        expected = [reference(flan_dir, engine, text, max_new_tokens=2) for text in SENTENCES]
        for i, result in enumerate(results[:36]):
            assert result.token_ids == expected[i % len(SENTENCES)]
        assert engine.stats()["queue_depth"] == 0
    finally:
        await engine.stop()


async def test_cancelled_requests_leave_the_count_at_once(flan_dir: Path) -> None:
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=2, max_queue=2))
    opts = GenerationOptions(max_new_tokens=2)
    try:
        with model_thread_paused():
            running = [asyncio.create_task(engine.generate("hi", opts)) for _ in range(2)]
            waiting = [asyncio.create_task(engine.generate("hi", opts)) for _ in range(2)]
            await submitted()
            assert engine.stats()["queue_depth"] == 2
            waiting[0].cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting[0]
            assert engine.stats()["queue_depth"] == 1  # no engine step has run meanwhile
            running[0].cancel()
            with pytest.raises(asyncio.CancelledError):
                await running[0]
            assert engine.stats()["queue_depth"] == 0  # its row went to the waiting request
            more = [asyncio.create_task(engine.generate("hi", opts)) for _ in range(2)]
            await submitted()
            assert not any(t.done() for t in more)  # room for two waiting again
        done = await asyncio.gather(running[1], waiting[1], *more)
        expected = reference(flan_dir, engine, "hi", max_new_tokens=2)
        assert [r.token_ids for r in done] == [expected] * 4
    finally:
        await engine.stop()


async def test_timed_out_requests_leave_the_count_at_once(flan_dir: Path) -> None:
    engine = Engine.load(str(flan_dir), EngineConfig(int8=False, max_batch=1, max_queue=1))
    opts = GenerationOptions(max_new_tokens=2)
    try:
        with model_thread_paused():
            running = asyncio.create_task(engine.generate("hi", opts))
            await submitted()
            with pytest.raises(EngineTimeout):
                await engine.generate("hi", opts, timeout=0.01)
            assert engine.stats()["queue_depth"] == 0
            waiting = asyncio.create_task(engine.generate("hi", opts))
            await submitted()
            assert not waiting.done() and engine.stats()["queue_depth"] == 1
        expected = reference(flan_dir, engine, "hi", max_new_tokens=2)
        assert (await running).token_ids == expected
        assert (await waiting).token_ids == expected
    finally:
        await engine.stop()
