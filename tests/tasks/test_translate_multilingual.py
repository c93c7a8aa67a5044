"""/translate with a multilingual model (NLLB-200, M2M100): language codes, routing, replies."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.engine import EngineConfig, EnginePool
from bot.locale import resolve_language
from tasks._translation_languages import model_language
from tests.fixtures import checkpoints
from tests.fixtures.checkpoints import NLLB_LANGUAGES
from tests.tasks.conftest import FakeEngine, FakePool, language_tasks

ENGLISH = "The weather is lovely today and we are going for a walk in the park."
GERMAN = "Das Wetter ist heute herrlich und wir gehen im Park spazieren."


def flores_200() -> list[str]:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    return list(FAIRSEQ_LANGUAGE_CODES)


def m2m100_codes() -> list[str]:
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    return list(FAIRSEQ_LANGUAGE_CODES["m2m100"])


@pytest.fixture
def backend() -> str:
    """SQLite only: these tests are about routing to the engine, not storage."""
    return "sqlite"


# -- tags -> model codes --------------------------------------------------------------


def test_every_flores_200_code_is_reached_from_its_tag() -> None:
    codes = flores_200()
    assert len(codes) == 202
    for code in codes:
        language, _, script = code.partition("_")
        assert model_language(f"{language}-{script}", codes) == code


@pytest.mark.parametrize(
    "tag,code",
    [
        ("de", "deu_Latn"),
        ("en", "eng_Latn"),
        ("pt-BR", "por_Latn"),
        ("zh", "zho_Hans"),
        ("zh-Hant", "zho_Hant"),
        ("yue", "yue_Hant"),
        ("ja", "jpn_Jpan"),
        ("ko", "kor_Hang"),  # langcodes says Kore, FLORES-200 Hang
        # Macrolanguages: NLLB has the individual variety.
        ("ar", "arb_Arab"),
        ("fa", "pes_Arab"),
        ("fa-AF", "prs_Arab"),
        ("ms", "zsm_Latn"),
        ("et", "est_Latn"),
        ("lv", "lvs_Latn"),
        ("sw", "swh_Latn"),
        ("no", "nob_Latn"),
        ("nb", "nob_Latn"),
        ("uz", "uzn_Latn"),
        ("mn", "khk_Cyrl"),
        ("az", "azj_Latn"),
        ("sq", "als_Latn"),
        ("mg", "plt_Latn"),
        ("om", "gaz_Latn"),
        ("ne", "npi_Deva"),
        ("yi", "ydd_Hebr"),
        ("ps", "pbt_Arab"),
        ("qu", "quy_Latn"),
        ("ff", "fuv_Latn"),
        ("tl", "tgl_Latn"),
        ("ku", "kmr_Latn"),
        ("he", "heb_Hebr"),
        ("iw", "heb_Hebr"),  # deprecated codes still work
        ("tw", "twi_Latn"),
        ("ak", "aka_Latn"),
        ("sr", "srp_Cyrl"),
    ],
)
def test_common_tags_map_to_nllb_codes(tag: str, code: str) -> None:
    assert model_language(tag, flores_200()) == code


@pytest.mark.parametrize("tag", ["sr-Latn", "la", "tlh", "xx", ""])
def test_languages_nllb_lacks_have_no_code(tag: str) -> None:
    assert model_language(tag, flores_200()) is None


def test_m2m100_tokens() -> None:
    tokens = [f"__{c}__" for c in m2m100_codes()]
    for code in m2m100_codes():
        assert model_language(code, tokens) == f"__{code}__"
    assert model_language("nb", tokens) == "__no__"
    assert model_language("zh-Hant", tokens) == "__zh__"
    assert model_language("iw", tokens) == "__he__"
    assert model_language("tlh", tokens) is None


def test_a_script_other_than_the_usual_one_is_kept() -> None:
    assert resolve_language("Traditional Chinese") == "zh-Hant"
    assert resolve_language("zh-TW") == "zh-Hant"
    assert resolve_language("sr-Latn") == "sr-Latn"
    assert resolve_language("zh-CN") == "zh"
    assert resolve_language("pt-BR") == "pt"


# -- routing with a scripted engine ---------------------------------------------------


@dataclass
class MultilingualEngine(FakeEngine):
    """A scripted engine that says which language codes it has, like an NLLB engine."""

    languages: frozenset[str] = field(default_factory=lambda: frozenset(flores_200()))


def bare_upper(prompt: str) -> str:
    return prompt.upper()


async def multilingual_chat(make_chat, **settings: Any):  # type: ignore[no-untyped-def]
    default = FakeEngine(answer=lambda p: "PROMPTED")
    nllb = MultilingualEngine(name="nllb", answer=bare_upper)
    marian = FakeEngine(name="opus-mt-en-de", answer=lambda p: "MARIAN")
    pool = FakePool(default=default, others={"/models/nllb": nllb, "/models/opus": marian})
    chat = await make_chat(
        plugins=language_tasks(),
        engine=pool,
        **({"translation_model": "/models/nllb"} | settings),
    )
    return chat, pool, nllb


async def test_the_multilingual_model_gets_bare_sentences_and_codes(make_chat) -> None:
    chat, pool, nllb = await multilingual_chat(make_chat)
    reply = await chat.say_one(f"/translate to fr from en {ENGLISH}")
    assert reply == f"**English → French**\n{ENGLISH.upper()}"
    (call,) = nllb.calls
    assert call.prompts == [ENGLISH]
    assert call.options.source_language == "eng_Latn"
    assert call.options.target_language == "fra_Latn"
    assert pool.requested == ["/models/nllb"]


async def test_the_detected_source_language_is_used(make_chat) -> None:
    chat, _, nllb = await multilingual_chat(make_chat)
    await chat.say(f"/translate to Arabic {GERMAN}")
    options = nllb.calls[-1].options
    assert (options.source_language, options.target_language) == ("deu_Latn", "arb_Arab")
    reply = await chat.say_one(f"/translate to zh-TW {ENGLISH}")
    assert reply == f"**English → Chinese (Traditional)**\n{ENGLISH.upper()}"
    assert nllb.calls[-1].options.target_language == "zho_Hant"


async def test_a_marian_pair_model_still_wins(make_chat) -> None:
    chat, pool, nllb = await multilingual_chat(
        make_chat, translation_models={"en-de": "/models/opus"}
    )
    assert await chat.say_one(f"/translate to de from en {ENGLISH}") == (
        "**English → German**\nMARIAN"
    )
    assert pool.requested == ["/models/opus"] and nllb.calls == []
    await chat.say(f"/translate to es from en {ENGLISH}")
    assert pool.requested[-1] == "/models/nllb"


async def test_a_language_the_model_lacks_gets_one_line_naming_it(make_chat) -> None:
    chat, _, nllb = await multilingual_chat(make_chat)
    reply = await chat.say_one(f"/translate to Latin from en {ENGLISH}")
    assert reply == "The translation model does not support Latin (la)."
    reply = await chat.say_one(f"/translate to de from Klingon {ENGLISH}")
    assert reply == "The translation model does not support Klingon (tlh)."
    assert nllb.calls == []


async def test_an_undetected_source_is_asked_for(make_chat, monkeypatch) -> None:
    async def unsure(text: str) -> None:
        return None

    monkeypatch.setattr("tasks.translate.detect", unsure)
    chat, _, nllb = await multilingual_chat(make_chat)
    reply = await chat.say_one("/translate to de ok")
    assert reply == (
        "I can't tell which language that text is in; say it with from <language>, "
        "e.g. /translate from fr to de <text>."
    )
    assert nllb.calls == []


async def test_without_the_setting_the_default_model_is_prompted(make_chat) -> None:
    chat, pool, nllb = await multilingual_chat(make_chat, translation_model=None)
    assert (await chat.say_one(f"/translate to fr from en {ENGLISH}")).endswith("PROMPTED")
    assert pool.requested == [None] and nllb.calls == []
    assert pool.default.prompts()[0].startswith("Translate English to French:")


async def test_a_translation_model_without_codes_falls_back_to_the_default(
    make_chat, caplog: pytest.LogCaptureFixture
) -> None:
    chat, pool, _ = await multilingual_chat(make_chat, translation_model="/models/opus")
    with caplog.at_level(logging.WARNING, logger="tasks.translate"):
        reply = await chat.say_one(f"/translate to fr from en {ENGLISH}")
    assert reply.endswith("PROMPTED")
    assert pool.requested == ["/models/opus", None]
    assert "has no language codes" in caplog.text


async def test_m2m100_style_codes(make_chat) -> None:
    chat, _, nllb = await multilingual_chat(make_chat)
    nllb.languages = frozenset(f"__{c}__" for c in m2m100_codes())
    await chat.say(f"/translate to Norwegian from en {ENGLISH}")
    options = nllb.calls[-1].options
    assert (options.source_language, options.target_language) == ("__en__", "__no__")


# -- end to end on a tiny random NLLB checkpoint ---------------------------------------


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkpoints.tiny_nllb(tmp_path_factory.mktemp("tasks-nllb"), seed=10)


@dataclass
class Recording:
    """The real engine, with the options and results of every batch written down."""

    inner: Any
    batches: list[tuple[list[str], Any, list[Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def generate_batch(self, texts: list[str], options: Any = None) -> Any:
        results = await self.inner.generate_batch(texts, options)
        self.batches.append((list(texts), options, results))
        return results


@dataclass
class RecordingPool:
    inner: EnginePool
    engines: dict[str | None, Recording] = field(default_factory=dict)

    async def get(self, model: str | None = None) -> Recording:
        if model not in self.engines:
            self.engines[model] = Recording(await self.inner.get(model))
        return self.engines[model]


@pytest.fixture
async def nllb_pool(tmp_path: Path) -> AsyncIterator[RecordingPool]:
    # The default model does not exist: loading it would fail the test.
    pool = EnginePool(EngineConfig(int8=False, max_batch=8), str(tmp_path / "no-default-model"))
    yield RecordingPool(pool)
    await pool.close()


async def test_end_to_end_on_a_tiny_nllb_model(make_chat, nllb_pool, tiny_nllb: Path) -> None:
    chat = await make_chat(
        plugins=language_tasks(), engine=nllb_pool, translation_model=str(tiny_nllb)
    )
    text = "Notes for today.\n- Buy milk. Call mum.\n\nThanks."
    reply = await chat.say_one(f"/translate to German from English {text}")
    lines = reply.splitlines()
    assert lines[0] == "**English → German**"
    assert len(lines) - 1 == len(text.splitlines())
    assert lines[2].startswith("- ") and lines[3] == ""
    engine = nllb_pool.engines[str(tiny_nllb)]
    assert engine.languages == frozenset(NLLB_LANGUAGES)
    ((sentences, options, results),) = engine.batches
    assert sentences == ["Notes for today.", "Buy milk.", "Call mum.", "Thanks."]
    assert (options.source_language, options.target_language) == ("eng_Latn", "deu_Latn")
    german = engine.tokenizer.language_ids["deu_Latn"]
    assert all(r.token_ids[0] == german for r in results)  # the forced first token
    assert all("deu_Latn" not in r.text for r in results)
    assert None not in nllb_pool.engines  # the default model was never needed

    reply = await chat.say_one("/translate to Korean from English hello")
    assert reply == "The translation model does not support Korean (ko)."
