"""Our model code against transformers: greedy, beam and scores on tiny random checkpoints."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, EngineConfig, GenerationOptions
from tests.fixtures.checkpoints import SENTENCES

from .conftest import hf_model

MIXED = [SENTENCES[0], "hi", SENTENCES[3] + " " + SENTENCES[4], "translate: cats", SENTENCES[6]]


def reference(path: Path, engine: Engine, text: str, **kwargs: object) -> list[int]:
    """transformers generate on the same source ids, without start token and final EOS."""
    model = hf_model(path)
    ids, _ = engine._source(text)
    info = engine.model.info
    extra = {"bad_words_ids": [[t] for t in info.bad_token_ids]} if info.bad_token_ids else {}
    out = model.generate(torch.tensor([ids]), do_sample=False, **extra, **kwargs)[0].tolist()[1:]
    return out[: out.index(info.eos_token_id)] if info.eos_token_id in out else out


@pytest.fixture(scope="module", params=["t5_dir", "flan_dir", "marian_dir", "bart_dir", "nllb_dir"])
def model_dir(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


@pytest.fixture
async def engine(model_dir: Path):
    engine = Engine.load(str(model_dir), EngineConfig(int8=False, max_batch=8))
    yield engine
    await engine.stop()


async def test_greedy_matches_transformers_one_at_a_time(engine: Engine, model_dir: Path) -> None:
    for text in MIXED[:3]:
        result = await engine.generate(text, GenerationOptions(max_new_tokens=12))
        assert result.token_ids == reference(model_dir, engine, text, max_new_tokens=12)
        assert not result.truncated


async def test_greedy_batch_of_mixed_lengths_matches(engine: Engine, model_dir: Path) -> None:
    opts = GenerationOptions(max_new_tokens=10)
    results = await engine.generate_batch(MIXED, opts)
    for text, result in zip(MIXED, results, strict=True):
        assert result.token_ids == reference(model_dir, engine, text, max_new_tokens=10)


@pytest.mark.parametrize("beams,penalty,early", [(3, 1.0, True), (4, 0.6, False)])
async def test_beam_search_matches(
    engine: Engine, model_dir: Path, beams: int, penalty: float, early: bool
) -> None:
    opts = GenerationOptions(
        max_new_tokens=9, num_beams=beams, length_penalty=penalty, early_stopping=early
    )
    texts = MIXED[:2]
    results = await asyncio.gather(*(engine.generate(t, opts) for t in texts))
    for text, result in zip(texts, results, strict=True):
        expected = reference(
            model_dir,
            engine,
            text,
            max_new_tokens=9,
            num_beams=beams,
            length_penalty=penalty,
            early_stopping=early,
        )
        assert result.token_ids == expected


async def test_processors_match(engine: Engine, model_dir: Path) -> None:
    opts = GenerationOptions(
        max_new_tokens=12, min_new_tokens=8, repetition_penalty=1.7, no_repeat_ngram_size=2
    )
    result = await engine.generate(MIXED[0], opts)
    assert result.token_ids == reference(
        model_dir,
        engine,
        MIXED[0],
        max_new_tokens=12,
        min_new_tokens=8,
        repetition_penalty=1.7,
        no_repeat_ngram_size=2,
    )


async def test_score_matches_transformers_logprobs(engine: Engine, model_dir: Path) -> None:
    model = hf_model(model_dir)
    source = SENTENCES[2]
    candidates = ["positive", "the house is wonderful", "a"]
    scores = await engine.score(source, candidates)
    ids, _ = engine._source(source)
    for cand, score in zip(candidates, scores, strict=True):
        labels = torch.tensor([engine.tokenizer.encode_target(cand)])
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids]), labels=labels).logits
        expected = torch.log_softmax(logits, -1).gather(-1, labels[..., None])[0, :, 0]
        assert torch.allclose(torch.tensor(score.token_logprobs), expected, atol=1e-4)
        assert score.total == pytest.approx(float(expected.sum()), abs=1e-4)
