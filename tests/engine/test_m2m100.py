"""NLLB / M2M100 against transformers: language tokens, forced targets, beams, scores, int8."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import torch

from bot.engine import Engine, EngineConfig, EngineError, GenerationOptions
from tests.fixtures.checkpoints import NLLB_LANGUAGES, SENTENCES, tiny_nllb

from .conftest import hf_model
from .test_loading import DRIFT_BOUND, fbgemm_has_vnni

PAIRS = [
    (SENTENCES[0], "eng_Latn", "deu_Latn"),
    ("hi", "eng_Latn", "fra_Latn"),
    (SENTENCES[3] + " " + SENTENCES[4], "deu_Latn", "zho_Hant"),
    ("translate: cats", "fra_Latn", "spa_Latn"),
    (SENTENCES[6], "spa_Latn", "eng_Latn"),
]


@pytest.fixture
async def nllb(nllb_dir: Path):
    engine = Engine.load(str(nllb_dir), EngineConfig(int8=False, max_batch=16))
    yield engine
    await engine.stop()


def lang_id(engine: Engine, code: str) -> int:
    return engine.tokenizer.language_ids[code]


def reference(
    path: Path, engine: Engine, text: str, source: str, target: str, **kwargs: object
) -> list[int]:
    """transformers generate with the target forced first, without start token and EOS."""
    ids, _ = engine._source(text, engine._language_token(source, "source_language"))
    target = engine._language_token(target, "target_language")
    out = (
        hf_model(path)
        .generate(
            torch.tensor([ids]),
            do_sample=False,
            forced_bos_token_id=lang_id(engine, target),
            **kwargs,
        )[0]
        .tolist()[1:]
    )
    eos = engine.model.info.eos_token_id
    return out[: out.index(eos)] if eos in out else out


def options(source: str, target: str, **kwargs: object) -> GenerationOptions:
    return GenerationOptions(source_language=source, target_language=target, **kwargs)  # type: ignore[arg-type]


def test_languages_are_the_tokenizers_codes(nllb: Engine, t5_dir: Path) -> None:
    assert nllb.languages == frozenset(NLLB_LANGUAGES)
    assert Engine.load(str(t5_dir), EngineConfig(int8=False)).languages == frozenset()


def test_source_is_language_token_pieces_eos(nllb: Engine, nllb_dir: Path) -> None:
    """NLLB's non-legacy layout, ``[src_lang] tokens </s>``, whatever the file's default."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(nllb_dir / "tokenizer.json"))
    pieces = tok.encode(SENTENCES[1], add_special_tokens=False).ids
    ids, truncated = nllb._source(SENTENCES[1], "deu_Latn")
    assert ids == [lang_id(nllb, "deu_Latn"), *pieces, 2] and not truncated
    # Without a language the file's post-processor applies, as in transformers.
    assert nllb._source(SENTENCES[1])[0] == tok.encode(SENTENCES[1]).ids


async def test_greedy_matches_transformers_with_the_target_forced(
    nllb: Engine, nllb_dir: Path
) -> None:
    for text, source, target in PAIRS[:3]:
        result = await nllb.generate(text, options(source, target, max_new_tokens=12))
        assert result.token_ids == reference(
            nllb_dir, nllb, text, source, target, max_new_tokens=12
        )
        assert result.token_ids[0] == lang_id(nllb, target)
        assert target not in result.text  # the language token is not part of the text


async def test_a_batch_of_mixed_lengths_and_languages_matches(nllb: Engine, nllb_dir: Path) -> None:
    """Every request keeps its own forced token while they decode side by side."""
    results = await asyncio.gather(
        *(nllb.generate(t, options(s, g, max_new_tokens=10)) for t, s, g in PAIRS)
    )
    assert len({r.token_ids[0] for r in results}) == 5  # five different targets
    for (text, source, target), result in zip(PAIRS, results, strict=True):
        assert result.token_ids == reference(
            nllb_dir, nllb, text, source, target, max_new_tokens=10
        )
    texts = [p[0] for p in PAIRS]
    batch = await nllb.generate_batch(texts, options("eng_Latn", "fra_Latn", max_new_tokens=10))
    for text, result in zip(texts, batch, strict=True):
        assert result.token_ids == reference(
            nllb_dir, nllb, text, "eng_Latn", "fra_Latn", max_new_tokens=10
        )


@pytest.mark.parametrize("beams,penalty,early", [(3, 1.0, True), (4, 0.6, False)])
async def test_beam_search_matches(
    nllb: Engine, nllb_dir: Path, beams: int, penalty: float, early: bool
) -> None:
    kwargs = {
        "max_new_tokens": 9,
        "num_beams": beams,
        "length_penalty": penalty,
        "early_stopping": early,
    }
    pairs = PAIRS[:2]
    results = await asyncio.gather(
        *(nllb.generate(t, options(s, g, **kwargs)) for t, s, g in pairs)
    )
    for (text, source, target), result in zip(pairs, results, strict=True):
        assert result.token_ids == reference(nllb_dir, nllb, text, source, target, **kwargs)
        assert result.token_ids[0] == lang_id(nllb, target)


async def test_processors_match(nllb: Engine, nllb_dir: Path) -> None:
    kwargs = {
        "max_new_tokens": 12,
        "min_new_tokens": 8,
        "repetition_penalty": 1.7,
        "no_repeat_ngram_size": 2,
    }
    text, source, target = PAIRS[0]
    result = await nllb.generate(text, options(source, target, **kwargs))
    assert result.token_ids == reference(nllb_dir, nllb, text, source, target, **kwargs)


async def test_scores_match_transformers_after_the_language_token(
    nllb: Engine, nllb_dir: Path
) -> None:
    model = hf_model(nllb_dir)
    source = SENTENCES[2]
    candidates = ["the house is wonderful", "a", "remind me tomorrow"]
    scores = await nllb.score(
        source, candidates, source_language="eng_Latn", target_language="deu_Latn"
    )
    ids, _ = nllb._source(source, "eng_Latn")
    for cand, score in zip(candidates, scores, strict=True):
        labels = nllb.tokenizer.encode_target(cand, "deu_Latn")
        assert labels[0] == lang_id(nllb, "deu_Latn")
        labels_t = torch.tensor([labels])
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids]), labels=labels_t).logits
        expected = torch.log_softmax(logits, -1).gather(-1, labels_t[..., None])[0, :, 0]
        # The forced language token is not scored: one log-prob per text token and EOS.
        assert len(score.token_logprobs) == len(labels) - 1
        assert torch.allclose(torch.tensor(score.token_logprobs), expected[1:], atol=1e-4)
        assert score.total == pytest.approx(float(expected[1:].sum()), abs=1e-4)


@pytest.mark.parametrize("int8_path", ["vnni", "avx2"])
async def test_int8_stays_close_to_float32(nllb_dir: Path, int8_path: str) -> None:
    if int8_path == "vnni" and not fbgemm_has_vnni():
        pytest.skip("fbgemm runs no VNNI kernels on this CPU; full range would saturate")
    fp32 = Engine.load(str(nllb_dir), EngineConfig(int8=False))
    int8 = Engine.load(str(nllb_dir), EngineConfig(int8=True, int8_path=int8_path))
    assert int8.int8 and int8.languages == fp32.languages
    candidates = ["the house is wonderful", "a small model", "remind me tomorrow"]
    diffs: list[float] = []
    try:
        for source, src, tgt in PAIRS:
            kwargs = {"source_language": src, "target_language": tgt}
            exact = await fp32.score(source, candidates, **kwargs)
            approx = await int8.score(source, candidates, **kwargs)
            for a, b in zip(exact, approx, strict=True):
                diffs += (torch.tensor(a.token_logprobs) - torch.tensor(b.token_logprobs)).tolist()
        result = await int8.generate(SENTENCES[1], options("eng_Latn", "zho_Hans"))
        assert result.token_ids[0] == lang_id(int8, "zho_Hans")
    finally:
        await fp32.stop()
        await int8.stop()
    assert torch.tensor(diffs).abs().mean().item() < DRIFT_BOUND


async def test_unknown_codes_and_languages_without_codes_are_refused(
    nllb: Engine, t5_dir: Path
) -> None:
    with pytest.raises(ValueError, match=r"does not know the language code 'deu_Latm'.*'deu_Latn'"):
        await nllb.generate("hi", options("eng_Latn", "deu_Latm"))
    with pytest.raises(ValueError, match=r"source_language: .* 'xx_Yyyy'"):
        await nllb.score("hi", ["a"], source_language="xx_Yyyy")
    with pytest.raises(ValueError, match="target_language must be a language code"):
        await nllb.generate("hi", GenerationOptions(target_language=" "))
    t5 = Engine.load(str(t5_dir), EngineConfig(int8=False))
    with pytest.raises(ValueError, match=r"target_language 'deu_Latn': .* has no language codes"):
        await t5.generate("hi", GenerationOptions(target_language="deu_Latn"))
    with pytest.raises(ValueError, match="has no language codes"):
        await t5.score("hi", ["a"], source_language="en")
    assert nllb.stats()["failed"] == 0 and t5.stats()["requests"] == 0


async def test_untied_output_head(tmp_path: Path) -> None:
    """tie_word_embeddings=false: the checkpoint's own lm_head, as transformers loads it."""
    path = tiny_nllb(tmp_path / "untied", seed=9, tied=False)
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), framework="pt") as f:
        assert "lm_head.weight" in f.keys()  # noqa: SIM118 (safe_open has no __contains__)
    engine = Engine.load(str(path), EngineConfig(int8=False))
    try:
        text, source, target = PAIRS[0]
        result = await engine.generate(text, options(source, target, max_new_tokens=12))
        assert result.token_ids == reference(path, engine, text, source, target, max_new_tokens=12)
    finally:
        await engine.stop()


# -- facebook/m2m100_418M layout: sentencepiece.bpe.model + vocab.json -------------------


def hf_m2m100_tokenizer(path: Path, src_lang: str):  # type: ignore[no-untyped-def]
    from transformers import M2M100Tokenizer

    return M2M100Tokenizer(
        str(path / "vocab.json"), str(path / "sentencepiece.bpe.model"), src_lang=src_lang
    )


def test_m2m100_tokenizer_matches_transformers(m2m100_spm_dir: Path) -> None:
    engine = Engine.load(str(m2m100_spm_dir), EngineConfig(int8=False))
    assert len(engine.languages) == 100 and "__de__" in engine.languages
    reference = hf_m2m100_tokenizer(m2m100_spm_dir, "de")
    for text in [*SENTENCES[:4], "über größe ✓ cats"]:
        expected = reference(text)["input_ids"]
        assert engine._source(text, "__de__")[0] == expected
        assert engine._language_token("de", "source_language") == "__de__"  # bare code too
        # transformers 5 keeps "__de__" in skip_special_tokens output; we drop it.
        assert engine.tokenizer.decode(expected) == reference.decode(
            expected[1:], skip_special_tokens=True
        )
    assert engine._source("hello")[0][0] == reference.get_lang_id("en")  # the default source


async def test_m2m100_generation_matches(m2m100_spm_dir: Path) -> None:
    engine = Engine.load(str(m2m100_spm_dir), EngineConfig(int8=False))
    try:
        for text, source, target in [(SENTENCES[0], "en", "fr"), ("hi", "__de__", "__zh__")]:
            result = await engine.generate(text, options(source, target, max_new_tokens=10))
            assert result.token_ids == reference(
                m2m100_spm_dir, engine, text, source, target, max_new_tokens=10
            )
            assert result.token_ids[0] == lang_id(engine, f"__{target.strip('_')}__")
    finally:
        await engine.stop()


def test_m2m100_tokenizer_files_are_named(m2m100_spm_dir: Path, tmp_path: Path) -> None:
    path = shutil.copytree(m2m100_spm_dir, tmp_path / "m2m")
    (path / "vocab.json").unlink()
    with pytest.raises(EngineError, match=r"sentencepiece\.bpe\.model needs vocab\.json"):
        Engine.load(str(path), EngineConfig(int8=False))
    (path / "sentencepiece.bpe.model").unlink()
    with pytest.raises(
        EngineError, match=r"no tokenizer found \(expected tokenizer.json or sentencepiece"
    ):
        Engine.load(str(path), EngineConfig(int8=False))


def test_wmt21_language_codes(m2m100_spm_dir: Path, tmp_path: Path) -> None:
    path = shutil.copytree(m2m100_spm_dir, tmp_path / "wmt21")
    config = json.loads((path / "tokenizer_config.json").read_text())
    (path / "tokenizer_config.json").write_text(json.dumps(config | {"language_codes": "wmt21"}))
    engine = Engine.load(str(path), EngineConfig(int8=False))
    vocab = len(json.loads((path / "vocab.json").read_text()))
    assert engine.tokenizer.language_ids["__en__"] == vocab
    assert engine.tokenizer.language_ids["__de__"] == vocab + 7
