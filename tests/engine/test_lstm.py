"""The seed's LSTM family: served by the engine with the outputs of plain torch.

A tiny random :class:`LSTMSeq2Seq` is saved with a tokenizer trained on the spot. Greedy
engine outputs must equal a step-by-step greedy decode written here in plain torch, and
continuous batching (concurrent requests, requests joining a running batch, beams) must
give each request what it gets alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.engine.decoding import BeamSearch, TokenRules
from bot.engine.lstm import LSTMConfig, LSTMSeq2Seq
from tests.fixtures.checkpoints import SENTENCES, randomize, train_json_tokenizer

from .test_scheduler import wait_until

TEXTS = [
    SENTENCES[0],
    "hi",
    SENTENCES[3] + " " + SENTENCES[4],
    SENTENCES[5],
    "ok cats",
    SENTENCES[9],
]


def tiny_lstm(path: Path, seed: int, **shape: object) -> Path:
    """A random LSTMSeq2Seq with a unigram tokenizer (<pad> 0, </s> 1, <s> 2, <unk> 3)."""
    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    train_json_tokenizer(path, 80, specials=("<pad>", "</s>", "<s>", "<unk>"))
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(path / "tokenizer.json")).get_vocab_size()
    cfg = LSTMConfig(vocab_size=vocab, embed_dim=16, hidden_dim=24, **shape)  # type: ignore[arg-type]
    model = LSTMSeq2Seq(cfg).eval()
    randomize(model)
    model.save(path)
    return path


@pytest.fixture(
    scope="module",
    params=[
        dict(attention="bahdanau", num_layers=1),
        dict(attention="luong", num_layers=2, input_feeding=False),
    ],
    ids=["bahdanau-1", "luong-2"],
)
def lstm_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_lstm(tmp_path_factory.mktemp("lstm"), seed=11, **request.param)


@pytest.fixture
async def engine(lstm_dir: Path):
    engine = Engine.load(str(lstm_dir), EngineConfig(int8=False, max_batch=16))
    yield engine
    await engine.stop()


def reference_greedy(model: LSTMSeq2Seq, ids: list[int], max_new_tokens: int) -> list[int]:
    """Plain torch: encode, bridge, then feed the argmax back one step at a time."""
    cfg = model.cfg
    with torch.no_grad():
        source = torch.tensor([ids])
        outputs, state = model.encode(source, torch.tensor([len(ids)]))
        memory = model.memory(outputs)
        mask = torch.ones(1, len(ids), dtype=torch.bool)
        feed = torch.zeros(1, cfg.hidden_dim)
        token, out = cfg.decoder_start_token_id, []
        for _ in range(max_new_tokens):
            logits, feed, state = model.step(torch.tensor([token]), feed, state, memory, mask)
            token = int(logits[0].argmax())
            if token == cfg.eos_token_id:
                break
            out.append(token)
    return out


def reference_beam(model: LSTMSeq2Seq, ids: list[int], opts: GenerationOptions) -> list[int]:
    """The engine's beam strategy over plain torch state: rows follow their parents.

    The selection logic is the engine's own (checked against transformers in
    test_equality); what this checks is that the LSTM state moves with each beam.
    """
    cfg, beams = model.cfg, opts.num_beams
    rules = TokenRules(eos=cfg.eos_token_id, start=cfg.decoder_start_token_id, banned=[])
    strategy = BeamSearch(opts, rules)
    with torch.no_grad():
        outputs, state = model.encode(torch.tensor([ids] * beams), torch.tensor([len(ids)] * beams))
        memory = model.memory(outputs)
        mask = torch.ones(beams, len(ids), dtype=torch.bool)
        feed = torch.zeros(beams, cfg.hidden_dim)
        tokens = [cfg.decoder_start_token_id] * beams
        for _ in range(opts.max_new_tokens):
            logits, feed, (h, c) = model.step(torch.tensor(tokens), feed, state, memory, mask)
            step = strategy.select(logits, [0] * beams)
            parents = torch.tensor(step.parents)
            feed, state = feed[parents], (h[:, parents], c[:, parents])
            tokens = step.tokens
            if step.done:
                break
    return strategy.result()[0]


def test_config_round_trip(lstm_dir: Path) -> None:
    model = LSTMSeq2Seq.load(lstm_dir)
    assert LSTMConfig.from_dict(model.cfg.to_dict()) == model.cfg
    assert model.cfg.to_dict()["model_type"] == "seqbot-lstm"


def test_forward_is_teacher_forced_steps(lstm_dir: Path) -> None:
    """forward() on a padded batch gives each row the logits of its own step-by-step pass."""
    model = LSTMSeq2Seq.load(lstm_dir)
    sources = [[5, 6, 7, 1], [8, 1]]
    width = max(map(len, sources))
    ids = torch.tensor([s + [0] * (width - len(s)) for s in sources])
    mask = ids != 0
    targets = torch.tensor([[2, 9, 10], [2, 11, 12]])
    with torch.no_grad():
        logits = model(ids, mask, targets)
        assert logits.shape == (2, 3, model.cfg.vocab_size)
        for row, source in enumerate(sources):
            alone = model(
                torch.tensor([source]), torch.ones(1, len(source)), targets[row : row + 1]
            )
            assert torch.allclose(logits[row], alone[0], atol=1e-5)


async def test_greedy_matches_plain_torch(engine: Engine, lstm_dir: Path) -> None:
    model = LSTMSeq2Seq.load(lstm_dir)
    produced = 0
    for text in TEXTS:
        result = await engine.generate(text, GenerationOptions(max_new_tokens=12))
        expected = reference_greedy(model, engine.tokenizer.encode(text), 12)
        assert result.token_ids == expected
        produced += len(expected)
    assert produced > len(TEXTS)  # the random model says something, not just EOS


def test_batched_greedy_matches_reference(lstm_dir: Path) -> None:
    """The model's own batched greedy (for validation while training) on padded sources."""
    from tokenizers import Tokenizer

    model = LSTMSeq2Seq.load(lstm_dir)
    tok = Tokenizer.from_file(str(lstm_dir / "tokenizer.json"))
    sources = [tok.encode(text).ids for text in TEXTS]
    width = max(map(len, sources))
    ids = torch.tensor([s + [0] * (width - len(s)) for s in sources])
    got = model.greedy(ids, ids != 0, 12)
    assert got == [reference_greedy(model, s, 12) for s in sources]


async def test_int8_engine_keeps_the_lstm_in_float32(lstm_dir: Path) -> None:
    """int8 mode finds no engine Linear in this family: outputs stay the float32 ones."""
    from bot.engine.quant import int8_available

    if not int8_available():
        pytest.skip("no int8 in this torch build")
    engine = Engine.load(str(lstm_dir), EngineConfig(int8=True, max_batch=4))
    try:
        model = LSTMSeq2Seq.load(lstm_dir)
        result = await engine.generate(TEXTS[0], GenerationOptions(max_new_tokens=12))
        assert result.token_ids == reference_greedy(model, engine.tokenizer.encode(TEXTS[0]), 12)
    finally:
        await engine.stop()


async def test_concurrent_requests_match_one_at_a_time(engine: Engine) -> None:
    plans = [(text, GenerationOptions(max_new_tokens=6 + 2 * i)) for i, text in enumerate(TEXTS)]
    alone = [await engine.generate(text, opts) for text, opts in plans]
    together = await asyncio.gather(*(engine.generate(t, o) for t, o in plans * 2))
    assert [r.token_ids for r in together] == [r.token_ids for r in alone * 2]


async def test_requests_joining_a_running_batch(engine: Engine) -> None:
    plans = [
        (SENTENCES[0], GenerationOptions(max_new_tokens=30, min_new_tokens=30)),
        (SENTENCES[1], GenerationOptions(max_new_tokens=12)),
        ("hi", GenerationOptions(max_new_tokens=20, num_beams=3)),
        (SENTENCES[5], GenerationOptions(max_new_tokens=5, min_new_tokens=5)),
        (SENTENCES[7], GenerationOptions(max_new_tokens=9, num_beams=2)),
    ]
    alone = [await engine.generate(text, opts) for text, opts in plans]
    start = engine.stats()["tokens"]
    first = asyncio.create_task(engine.generate(*plans[0]))
    await wait_until(lambda: engine.stats()["tokens"] >= start + 5)
    rest = [asyncio.create_task(engine.generate(t, o)) for t, o in plans[1:]]
    results = [await first, *[await task for task in rest]]
    assert [r.token_ids for r in results] == [r.token_ids for r in alone]


@pytest.mark.parametrize("beams", [2, 4])
async def test_beam_search(engine: Engine, lstm_dir: Path, beams: int) -> None:
    opts = GenerationOptions(max_new_tokens=10, num_beams=beams)
    alone = [await engine.generate(text, opts) for text in TEXTS[:4]]
    together = await asyncio.gather(*(engine.generate(t, opts) for t in TEXTS[:4]))
    assert [r.token_ids for r in together] == [r.token_ids for r in alone]
    one_beam = await engine.generate(TEXTS[0], GenerationOptions(max_new_tokens=10, num_beams=1))
    greedy = await engine.generate(TEXTS[0], GenerationOptions(max_new_tokens=10))
    assert one_beam.token_ids == greedy.token_ids
    model = LSTMSeq2Seq.load(lstm_dir)
    for text, result in zip(TEXTS[:4], alone, strict=True):
        assert result.token_ids == reference_beam(model, engine.tokenizer.encode(text), opts)
        assert len(result.token_ids) <= 10
        assert engine.model.info.eos_token_id not in result.token_ids
        assert result.text == engine.tokenizer.decode(result.token_ids)


async def test_score_matches_teacher_forcing(engine: Engine, lstm_dir: Path) -> None:
    model = LSTMSeq2Seq.load(lstm_dir)
    source, candidates = SENTENCES[2], ["the meeting", "tuesday at noon", "a"]
    results = await engine.score(source, candidates)
    ids = engine.tokenizer.encode(source)
    for cand, got in zip(candidates, results, strict=True):
        target = engine.tokenizer.encode_target(cand)
        inputs = torch.tensor([[model.cfg.decoder_start_token_id, *target[:-1]]])
        with torch.no_grad():
            logits = model(torch.tensor([ids]), torch.ones(1, len(ids)), inputs)
        want = torch.log_softmax(logits[0], -1).gather(-1, torch.tensor(target)[:, None])[:, 0]
        assert torch.allclose(torch.tensor(got.token_logprobs), want, atol=1e-4)
        assert got.total == pytest.approx(float(want.sum()), abs=1e-4)
