"""--base: fine-tuning tiny random T5 / flan-T5 / Marian / BART checkpoints.

Each must learn (validation loss below the base's), and the saved directory must give the
same greedy outputs in seqbot's engine as in transformers, which loads it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.train import loop
from bot.train.options import TrainError, TrainOptions
from tests.fixtures.checkpoints import SENTENCES, tiny_bart, tiny_marian, tiny_t5

BASES: dict[str, Callable[[Path], Path]] = {
    "t5": lambda p: tiny_t5(p, gated=False, seed=0),
    "flan": lambda p: tiny_t5(p, gated=True, seed=1),
    "marian": lambda p: tiny_marian(p, seed=2),
    "bart": lambda p: tiny_bart(p, seed=3),
}
WORDS = sorted({w for s in SENTENCES for w in s.split() if w.isalpha()})


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module", params=sorted(BASES))
def base_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return BASES[request.param](tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A learnable task in the tokenizers' words: keep the first two of three words."""
    rng = random.Random(0)
    lines = []
    for _ in range(60):
        words = rng.sample(WORDS, 3)
        lines.append(json.dumps({"source": " ".join(words), "target": " ".join(words[:2])}))
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def options(base: Path, data: Path, out: Path, **changes: object) -> TrainOptions:
    opts = TrainOptions(data=data, out=out, base=str(base), epochs=3, batch_size=8, lr=3e-3)
    opts.val_split, opts.max_len, opts.max_eval, opts.progress = 0.2, 16, 8, False
    return dataclasses.replace(opts, **changes)


def hf_greedy(out: Path, engine: Engine, text: str, max_new_tokens: int) -> list[int]:
    """transformers' greedy on the engine's source ids, without start token and EOS."""
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(out).eval()
    info = engine.model.info
    extra = {"bad_words_ids": [[t] for t in info.bad_token_ids]} if info.bad_token_ids else {}
    ids = torch.tensor([engine.tokenizer.encode(text)])
    with torch.no_grad():
        row = model.generate(
            ids, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, **extra
        )[0].tolist()[1:]
    return row[: row.index(info.eos_token_id)] if info.eos_token_id in row else row


def served_ids(out: Path, texts: list[str], max_new_tokens: int) -> tuple[Engine, list[list[int]]]:
    """Greedy ids from seqbot's engine for the saved directory (float32, as transformers)."""
    engine = Engine.load(str(out), EngineConfig(int8=False, max_batch=8))

    async def run() -> list[list[int]]:
        try:
            options = GenerationOptions(max_new_tokens=max_new_tokens)
            return [r.token_ids for r in await engine.generate_batch(texts, options)]
        finally:
            await engine.stop()

    return engine, asyncio.run(run())


def test_fine_tuning_learns_and_engine_equals_transformers(
    base_dir: Path, pairs_file: Path, tmp_path: Path
) -> None:
    opts = options(base_dir, pairs_file, tmp_path / "out")
    before, _ = loop.prepare(dataclasses.replace(opts, out=tmp_path / "before"))
    untrained = loop.validate(before)["val_loss"]
    result = loop.train(opts, report=quiet)
    assert result["steps"] == 3 * 6  # 48 training pairs in batches of 8, three epochs
    assert min(h["val_loss"] for h in result["history"]) < untrained

    out = opts.out
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "training.json"} <= names
    assert names & {"tokenizer.json", "source.spm"}  # the base's tokenizer came along
    texts = [json.loads(line)["source"] for line in pairs_file.read_text().splitlines()[:6]]
    engine, served = served_ids(out, texts, 12)
    for text, ids in zip(texts, served, strict=True):
        assert ids == hf_greedy(out, engine, text, 12), text


def test_resume_keeps_the_base(pairs_file: Path, tmp_path: Path) -> None:
    base_dir = BASES["t5"](tmp_path / "t5")
    opts = options(base_dir, pairs_file, tmp_path / "out", epochs=1)
    loop.train(opts, report=quiet)
    resumed = dataclasses.replace(opts, base=None, epochs=2, resume=True)
    result = loop.train(resumed, report=quiet)
    assert result["epochs"] == 2 and result["steps"] == 12
    assert json.loads((opts.out / "training.json").read_text())["base"] == str(base_dir)


def test_unknown_and_unsupported_bases(pairs_file: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="seqbot model pull no-such/model"):
        loop.train(options(Path("no-such/model"), pairs_file, tmp_path / "a"), report=quiet)
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(TrainError, match="'gpt2' cannot be fine-tuned"):
        loop.train(options(gpt, pairs_file, tmp_path / "b"), report=quiet)
    with pytest.raises(TrainError, match="must not be the --base directory"):
        loop.train(options(gpt, pairs_file, gpt), report=quiet)
