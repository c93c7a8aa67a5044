"""Score requests from many callers run as one batched pass, with the numbers of one alone."""

from __future__ import annotations

import asyncio

import pytest
import torch

from bot.engine import Engine, EngineConfig, EngineError, GenerationOptions, runner, scheduler
from bot.engine.options import ScoreResult
from bot.engine.request import ScoreRequest, score_pass_cost
from tests.fixtures.checkpoints import SENTENCES

from .test_scheduler import model_thread_paused, submitted

# Sources and candidates of different lengths and counts, so padding is exercised on both
# the encoder side (sources) and the decoder side (candidates).
CASES: list[tuple[str, list[str]]] = [
    (SENTENCES[0], ["positive", "negative", "neutral"]),
    ("hi", ["yes", "no"]),
    (SENTENCES[3] + " " + SENTENCES[4], ["the house is wonderful", "a"]),
    ("translate: cats", ["cats and dogs", "positive", "x", "the weather today is sunny"]),
    (SENTENCES[6], ["a"]),
    ("review: loved it. sentiment:", ["positive", "negative"]),
    (SENTENCES[1], ["das Haus ist wunderbar", "the house"]),
    ("ok", ["positive", "negative", "neutral"]),
    (SENTENCES[7] + " " + SENTENCES[8], ["sunny", "rain"]),
    (SENTENCES[9], ["one shared engine", "a worker thread", "cats"]),
    ("is this good?", ["yes"]),
    (SENTENCES[5], ["remind me", "call my mother tomorrow morning please", "no"]),
]


@pytest.fixture(params=["t5_dir", "flan_dir", "marian_dir", "bart_dir"])
async def engine(request: pytest.FixtureRequest):
    engine = Engine.load(
        str(request.getfixturevalue(request.param)), EngineConfig(int8=False, max_batch=16)
    )
    yield engine
    await engine.stop()


def assert_same(got: list[ScoreResult], want: list[ScoreResult]) -> None:
    """Equal up to float32 rounding: 1e-4 nats, as test_equality holds us to transformers.

    Padding a source changes the rounding of the encoder pass: the tiny flan-T5 model
    scores one request alone, padded to a longer width, 1.4e-5 relative (5e-5 nats)
    away from unpadded; a batched pass pads every source but the longest.
    """
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert len(g.token_logprobs) == len(w.token_logprobs)
        assert torch.allclose(
            torch.tensor(g.token_logprobs), torch.tensor(w.token_logprobs), rtol=0, atol=1e-4
        )
        assert g.total == pytest.approx(w.total, abs=1e-4)


async def one_at_a_time(engine: Engine, cases: list[tuple[str, list[str]]]) -> list:
    return [await engine.score(source, candidates) for source, candidates in cases]


async def burst(engine: Engine, calls: list) -> list:
    """Submit every call while the model thread is held, so they meet in one or two steps.

    The control thread may take the first arrivals into a step before the rest are
    submitted; everything submitted after that lands in the next step.
    """
    with model_thread_paused():
        tasks = [asyncio.create_task(call) for call in calls]
        await submitted()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_concurrent_scores_share_passes_and_match_scoring_alone(engine: Engine) -> None:
    alone = await one_at_a_time(engine, CASES)
    assert engine.stats()["score_passes"] == len(CASES)  # one pass per request alone
    together = await burst(engine, [engine.score(s, c) for s, c in CASES])
    assert engine.stats()["score_passes"] - len(CASES) < len(CASES)
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)
    assert engine.stats()["requests"] == 2 * len(CASES)


async def test_without_a_size_cap_each_step_scores_in_one_pass(engine: Engine) -> None:
    alone = await one_at_a_time(engine, CASES)
    engine._scheduler.runner.score_pass_tokens = 1 << 30
    together = await burst(engine, [engine.score(s, c) for s, c in CASES])
    assert engine.stats()["score_passes"] - len(CASES) <= 2  # one per step
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


async def test_gathered_scores_without_holding_the_thread_take_fewer_passes(
    engine: Engine,
) -> None:
    """What tasks/sentiment.py does: asyncio.gather over engine.score, nothing else."""
    alone = await one_at_a_time(engine, CASES)
    before = engine.stats()["score_passes"]
    together = await asyncio.gather(*(engine.score(s, c) for s, c in CASES))
    assert engine.stats()["score_passes"] - before < len(CASES)
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


async def test_scores_and_generations_in_one_burst_all_match_running_alone(
    engine: Engine,
) -> None:
    plans = [
        (SENTENCES[0], GenerationOptions(max_new_tokens=10)),
        ("hi", GenerationOptions(max_new_tokens=8, num_beams=3)),
        (SENTENCES[5], GenerationOptions(max_new_tokens=6, repetition_penalty=1.5)),
    ]
    scores_alone = await one_at_a_time(engine, CASES[:6])
    generated_alone = [await engine.generate(text, opts) for text, opts in plans]
    calls = []
    for i, (source, candidates) in enumerate(CASES[:6]):  # interleaved in arrival order
        calls.append(engine.score(source, candidates))
        if i % 2 == 0:
            calls.append(engine.generate(*plans[i // 2]))
    results = await burst(engine, calls)
    assert not [r for r in results if isinstance(r, BaseException)]
    scores = [r for r in results if isinstance(r, list)]
    generated = [r for r in results if not isinstance(r, list)]
    for got, want in zip(scores, scores_alone, strict=True):
        assert_same(got, want)
    assert [r.token_ids for r in generated] == [r.token_ids for r in generated_alone]


async def test_a_request_that_breaks_the_pass_fails_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison = "the one that breaks " + SENTENCES[2]
    poison_len = len(engine._source(poison)[0])
    cases = [c for c in CASES[:6] if len(engine._source(c[0])[0]) != poison_len]
    alone = await one_at_a_time(engine, cases)
    encode = engine.model.encode

    def fragile(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if poison_len in lengths.tolist():
            raise RuntimeError("boom")
        return encode(ids, lengths)

    monkeypatch.setattr(engine.model, "encode", fragile)
    failed = engine.stats()["failed"]
    calls = [engine.score(s, c) for s, c in cases]
    calls.insert(2, engine.score(poison, ["positive", "negative"]))
    results = await burst(engine, calls)
    assert isinstance(results.pop(2), EngineError)
    for got, want in zip(results, alone, strict=True):
        assert_same(got, want)
    assert engine.stats()["failed"] == failed + 1
    # The engine keeps serving, batched, once the bad request is gone.
    assert_same(await engine.score(*cases[0]), alone[0])


async def test_the_token_budget_splits_a_large_burst_into_several_passes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [(SENTENCES[i], ["positive", "negative", "neutral"]) for i in range(6)]
    alone = await one_at_a_time(engine, cases)
    costs = [score_pass_cost([_request(engine, *c)]) for c in cases]
    # A pass costs at least the sum of its requests alone, so no three fit in one.
    monkeypatch.setattr(scheduler, "ADMIT_TOKEN_BUDGET", min(costs) * 3 - 1)
    before = engine.stats()["score_passes"]
    together = await burst(engine, [engine.score(s, c) for s, c in cases])
    assert engine.stats()["score_passes"] - before >= 3
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


async def test_a_pass_split_into_small_decoder_calls_gives_the_same_numbers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = await one_at_a_time(engine, CASES)
    calls = 0
    decode_full = engine.model.decode_full

    def counted(*args: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return decode_full(*args)

    monkeypatch.setattr(engine.model, "decode_full", counted)
    monkeypatch.setattr(runner, "SCORE_LOGITS_BYTES", 1)  # one (request, candidate) a call
    together = await burst(engine, [engine.score(s, c) for s, c in CASES])
    assert calls == sum(len(c) for _, c in CASES)
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


async def test_max_score_batch_one_runs_a_pass_per_request(engine: Engine) -> None:
    engine._scheduler.runner.max_score_batch = 1
    alone = await one_at_a_time(engine, CASES[:5])
    together = await burst(engine, [engine.score(s, c) for s, c in CASES[:5]])
    assert engine.stats()["score_passes"] == 10
    for got, want in zip(together, alone, strict=True):
        assert_same(got, want)


async def test_passes_group_similar_lengths_within_the_caps(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_runner = engine._scheduler.runner
    passes: list[list[int]] = []
    monkeypatch.setattr(
        model_runner, "_score", lambda group: passes.append([len(r.source) for r in group])
    )
    loop = asyncio.get_running_loop()

    def requests() -> list[ScoreRequest]:
        return [
            ScoreRequest([5] * n, loop, loop.create_future(), candidates=[[7]])
            for n in (30, 5, 31, 6, 29, 7)
        ]

    # 3 requests of 31 tokens cost 31 x (3 + 3) + 3 = 189; with 29 the short ones cost 236.
    model_runner.score_pass_tokens = 200
    model_runner._score_batch(requests())
    assert passes == [[5, 6, 7], [29, 30, 31]]
    passes.clear()
    model_runner.max_score_batch = 2
    model_runner._score_batch(requests())
    assert passes == [[5, 6], [7, 29], [30, 31]]


def test_a_pass_costs_its_padded_tokens() -> None:
    loop = asyncio.new_event_loop()
    try:

        def req(source: int, *candidates: int) -> ScoreRequest:
            return ScoreRequest(
                [5] * source,
                loop,
                loop.create_future(),
                candidates=[[7] * n for n in candidates],
            )

        cost = score_pass_cost
        assert cost([]) == 0
        # encoder 10 + 3 pairs x 10 projected source states + 3 pairs x 2 candidate tokens
        assert cost([req(10, 1, 2, 1)]) == 10 + 30 + 6
        # A short source padded to the long one's width, a candidate to the longest.
        assert cost([req(10, 1, 2, 1), req(4, 5)]) == 10 * 2 + 4 * 10 + 4 * 5
    finally:
        loop.close()


def _request(engine: Engine, source: str, candidates: list[str]) -> ScoreRequest:
    loop = asyncio.get_running_loop()
    return ScoreRequest(
        engine._source(source)[0],
        loop,
        loop.create_future(),
        candidates=[engine.tokenizer.encode_target(c) for c in candidates],
    )
