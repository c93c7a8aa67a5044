"""Session fixtures: the tiny random checkpoints of :mod:`tests.fixtures.checkpoints`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine, GenerationResult
from tests.fixtures.checkpoints import (
    tiny_bart,
    tiny_m2m100_spm,
    tiny_marian,
    tiny_nllb,
    tiny_t5,
)


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_nllb(tmp_path_factory.mktemp("nllb"), seed=7)


@pytest.fixture(scope="session")
def m2m100_spm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_m2m100_spm(tmp_path_factory.mktemp("m2m100"), seed=8)


@pytest.fixture(scope="session")
def bart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bart(tmp_path_factory.mktemp("bart"), seed=4)


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_t5(tmp_path_factory.mktemp("t5v1"), gated=False, seed=1)


@pytest.fixture(scope="session")
def flan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_t5(tmp_path_factory.mktemp("flan"), gated=True, seed=2)


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_marian(tmp_path_factory.mktemp("marian"), seed=3)


def assert_well_formed(engine: Engine, result: GenerationResult, max_new_tokens: int) -> None:
    """What a result must be whatever the weights (int8 outputs cannot be predicted).

    Up to ``max_new_tokens`` ids, the final EOS left out; a finish reason that says which
    limit ended it; and the text those ids decode to.
    """
    ids = result.token_ids
    assert len(ids) <= max_new_tokens
    assert engine.model.info.eos_token_id not in ids
    assert result.finish_reason == ("length" if len(ids) == max_new_tokens else "eos")
    assert result.text == engine.tokenizer.decode(ids)


def hf_model(path: Path):
    """transformers' own model for ``path``: the reference our outputs must match."""
    from transformers import AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM.from_pretrained(path).eval()
