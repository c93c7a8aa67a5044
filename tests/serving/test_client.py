"""The remote engine client against a real engine behind HTTP (aiohttp, no Ray).

Remote answers must be the in-process engine's, token for token (float32), and every
failure must reach a task as the exception a local engine raises, or as one clear line.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

import pytest
from aiohttp import web
from typer.testing import CliRunner

from bot.app import make_engine_pool
from bot.engine import (
    EngineBusy,
    EngineConfig,
    EngineError,
    EnginePool,
    EngineTimeout,
    GenerationOptions,
    ModelNotAvailable,
)
from bot.engine.cli import model_app
from bot.errors import UserError
from bot.serving.client import (
    UNREACHABLE,
    EngineUnreachable,
    ModelNotServed,
    RemoteEngine,
    RemotePool,
    safe_url,
)
from bot.settings import ConfigError, Settings, load_settings
from tests.fixtures.checkpoints import NLLB_LANGUAGES, SENTENCES
from tests.serving.conftest import FP32, FlakyProxy, closed_port, load
from tests.tasks.conftest import language_tasks

OPTIONS = [
    None,
    GenerationOptions(max_new_tokens=12),
    GenerationOptions(max_new_tokens=10, min_new_tokens=8),
    GenerationOptions(max_new_tokens=8, num_beams=3),
    GenerationOptions(max_new_tokens=8, num_beams=2, length_penalty=0.5, no_repeat_ngram_size=2),
    GenerationOptions(max_new_tokens=8, repetition_penalty=1.3),
    GenerationOptions(max_new_tokens=8, do_sample=True, top_k=20, temperature=0.8, seed=7),
]
LONG = " ".join(SENTENCES * 3)  # longer than the model reads: truncated on both sides


@pytest.fixture
def backend() -> str:
    """SQLite only: these tests are about the engine path, not storage."""
    return "sqlite"


def on_post(fault: web.StreamResponse | float) -> object:
    """A fault for generate/score only (a response, or seconds to stall), so connect works."""

    async def answer(request: web.Request) -> web.StreamResponse | None:
        if request.method != "POST":
            return None
        if isinstance(fault, float):
            await asyncio.sleep(fault)
        return fault if isinstance(fault, web.StreamResponse) else None

    return answer


# -- same answers as the local engine ------------------------------------------------------


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
async def test_generate_equals_the_local_engine(flan, local_flan, remote, options) -> None:
    engine = await remote(flan.url).get()
    texts = [*SENTENCES[:4], LONG]
    assert await engine.generate_batch(texts, options) == await local_flan.generate_batch(
        texts, options
    )
    assert await engine.generate(SENTENCES[5], options) == await local_flan.generate(
        SENTENCES[5], options
    )
    assert (await engine.generate(LONG, options)).truncated


async def test_score_equals_the_local_engine(flan, local_flan, remote) -> None:
    engine = await remote(flan.url).get()
    for source, candidates in [(SENTENCES[0], SENTENCES[1:4]), (LONG, ["yes", "no"])]:
        assert await engine.score(source, candidates) == await local_flan.score(source, candidates)
    assert await engine.score("anything", []) == []


async def test_limits_and_token_counts_are_the_local_engines(flan, local_flan, remote) -> None:
    pool = remote(flan.url)
    assert pool.loaded == []
    engine = await pool.get()
    assert pool.loaded == [local_flan.name] == [engine.name]
    assert engine.max_source_tokens == local_flan.max_source_tokens
    assert engine.max_target_tokens == local_flan.max_target_tokens
    assert engine.languages == local_flan.languages == frozenset()
    for text in [*SENTENCES, LONG, "", "ünïcödé ✓ 漢字"]:
        assert engine.count_tokens(text) == local_flan.count_tokens(text)


async def test_nllb_languages_generate_and_score_equal_local(nllb, local_nllb, remote) -> None:
    engine = await remote(nllb.url).get()
    assert engine.languages == local_nllb.languages == frozenset(NLLB_LANGUAGES)
    assert engine.count_tokens(SENTENCES[1]) == local_nllb.count_tokens(SENTENCES[1])
    options = GenerationOptions(
        max_new_tokens=8, source_language="eng_Latn", target_language="deu_Latn"
    )
    remote_results = await engine.generate_batch(SENTENCES[:3], options)
    assert remote_results == await local_nllb.generate_batch(SENTENCES[:3], options)
    german = local_nllb.tokenizer.language_ids["deu_Latn"]
    assert all(r.token_ids[0] == german for r in remote_results)
    languages = {"source_language": "eng_Latn", "target_language": "fra_Latn"}
    assert await engine.score(SENTENCES[0], SENTENCES[1:3], **languages) == await local_nllb.score(
        SENTENCES[0], SENTENCES[1:3], **languages
    )


async def test_bad_requests_are_the_local_engines_value_errors(
    flan, nllb, local_flan, local_nllb, remote
) -> None:
    flan_engine = await remote(flan.url).get()
    nllb_engine = await remote(nllb.url).get()
    cases = [
        (flan_engine, local_flan, GenerationOptions(num_beams=100)),
        (flan_engine, local_flan, GenerationOptions(max_new_tokens=10, min_new_tokens=11)),
        (flan_engine, local_flan, GenerationOptions(target_language="deu_Latn")),
        (nllb_engine, local_nllb, GenerationOptions(target_language="deu_Ltn")),
    ]
    for engine, local, options in cases:
        with pytest.raises(ValueError) as expected:
            await local.generate("hello", options)
        with pytest.raises(ValueError) as got:
            await engine.generate("hello", options)
        assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match="does not know the language code 'xx'"):
        await nllb_engine.score("hello", ["hallo"], target_language="xx")


# -- stats and the tokenizer cache -------------------------------------------------------


async def test_stats_come_from_info_and_stats(flan, remote) -> None:
    engine = await remote(flan.url).get()
    stats = engine.stats()
    assert (stats["max_batch"], stats["max_queue"]) == (FP32.max_batch, FP32.max_queue)
    before = stats["requests"]
    await engine.generate("hello", GenerationOptions(max_new_tokens=2))
    assert engine.stats()["requests"] == before  # last seen, not asked on every call
    assert (await engine.fetch_stats())["requests"] == before + 1
    assert engine.stats()["requests"] == before + 1


async def test_the_tokenizer_is_fetched_once_per_digest(flan, local_flan, remote, tmp_path) -> None:
    await remote(flan.url).get()
    assert flan.seen == ["GET info", "GET tokenizer"]
    second = await remote(flan.url).get()  # another worker on this host
    assert flan.seen == ["GET info", "GET tokenizer", "GET info"]
    (tmp_path / "tokenizers" / second.digest / "tokenizer.json").write_text("{}")  # damaged
    third = await remote(flan.url).get()
    assert flan.seen[-2:] == ["GET info", "GET tokenizer"]
    assert third.count_tokens(SENTENCES[0]) == local_flan.count_tokens(SENTENCES[0])


async def test_a_new_model_on_the_server_is_picked_up(flan, nllb, remote, monkeypatch) -> None:
    pool = remote(flan.url)
    engine = await pool.get()
    monkeypatch.setattr(engine, "url", nllb.url)  # the server was redeployed with NLLB
    monkeypatch.setattr("bot.serving.client.STATS_MAX_AGE", 0.0)
    await pool.get()
    await asyncio.wait_for(engine._refresh, 10)
    assert engine.languages == frozenset(NLLB_LANGUAGES)
    assert pool.loaded == [nllb.endpoint.engine.name]


# -- failures ------------------------------------------------------------------------------


async def test_a_full_replica_is_engine_busy(tiny_flan, make_server, remote) -> None:
    server = make_server(load(tiny_flan, EngineConfig(int8=False, max_batch=1, max_queue=1)))
    engine = await remote(server.url).get()
    with pytest.raises(EngineBusy) as busy:
        await engine.generate_batch(SENTENCES[:6], GenerationOptions(max_new_tokens=4))
    assert type(busy.value) is EngineBusy
    assert str(busy.value) == str(EngineBusy())


async def test_busy_answers_keep_their_message(flan, remote) -> None:
    engine = await remote(flan.url).get()
    flan.fault = on_post(web.json_response({"error": "busy", "message": "Full."}, status=503))
    with pytest.raises(EngineBusy, match=r"^Full\.$"):
        await engine.generate("hi")
    flan.fault = on_post(web.Response(status=503, text="dropped: backpressure"))  # a proxy's
    with pytest.raises(EngineBusy) as plain:
        await engine.score("hi", ["a"])
    assert str(plain.value) == str(EngineBusy())
    assert flan.seen.count("POST score") == 1  # an answer is never retried


async def test_a_slow_server_is_a_timeout_within_the_limit(flan, remote) -> None:
    engine = await remote(flan.url, timeout=0.5).get()
    flan.fault = on_post(30.0)
    start = time.monotonic()
    with pytest.raises(EngineTimeout):
        await engine.generate("hi")
    assert 0.5 <= time.monotonic() - start < 3.0
    start = time.monotonic()
    with pytest.raises(EngineTimeout):
        await engine.score("hi", ["a"], timeout=0.2)  # the caller's own limit
    assert time.monotonic() - start < 2.0
    assert flan.seen[-2:] == ["POST generate", "POST score"]  # neither was sent twice


async def test_server_timeouts_and_errors_map_to_engine_exceptions(flan, remote) -> None:
    engine = await remote(flan.url).get()
    flan.fault = on_post(web.json_response({"error": "timeout", "message": "Slow."}, status=504))
    with pytest.raises(EngineTimeout, match="Slow"):
        await engine.generate("hi")
    flan.fault = on_post(web.json_response({"error": "engine", "message": "boom"}, status=500))
    with pytest.raises(EngineError, match="boom"):
        await engine.generate("hi")
    flan.fault = on_post(web.Response(status=404, text="Not Found"))
    with pytest.raises(EngineError, match=r"127\.0\.0\.1:\d+/seqbot answered HTTP 404"):
        await engine.generate("hi")


async def test_an_unreachable_server_is_one_sentence_and_a_log_line(remote, caplog) -> None:
    port = closed_port()
    pool = remote(f"http://ops-user:hunter2@127.0.0.1:{port}/seqbot?token=abc", retries=2)
    caplog.set_level(logging.INFO, logger="bot.serving.client")
    start = time.monotonic()
    with pytest.raises(EngineUnreachable) as unreachable:
        await pool.get()
    assert time.monotonic() - start < 5
    assert str(unreachable.value) == UNREACHABLE
    assert isinstance(unreachable.value, UserError)
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"http://127.0.0.1:{port}/seqbot is not reachable" in warning
    assert "gave up after 3 attempts" in warning
    assert "hunter2" not in caplog.text and "ops-user" not in caplog.text
    assert "abc" not in caplog.text


async def test_dropped_connections_are_retried_until_one_gets_through(flan, remote) -> None:
    async with FlakyProxy(flan.port, drop=2) as proxy:
        engine = await remote(proxy.url, retries=3).get()
        assert proxy.connections == 3
        assert flan.seen == ["GET info", "GET tokenizer"]  # the dropped ones never arrived
        assert (await engine.generate("hi")).text == (await engine.generate("hi")).text
    async with FlakyProxy(flan.port, drop=10) as proxy:
        with pytest.raises(EngineUnreachable):
            await remote(proxy.url, retries=2).get()
        assert proxy.connections == 3


async def test_another_model_name_is_a_user_error(flan, tiny_flan, remote) -> None:
    pool = remote(flan.url)
    assert await pool.get(str(tiny_flan)) is await pool.get()
    with pytest.raises(ModelNotServed) as other:
        await pool.get("facebook/nllb-200-distilled-600M")
    assert isinstance(other.value, ModelNotAvailable)
    assert str(other.value) == (
        "The model 'facebook/nllb-200-distilled-600M' is not available here: this bot's "
        f"language model server runs {str(tiny_flan)!r} only."
    )


async def test_a_closed_pool_refuses_requests(flan, remote) -> None:
    pool = remote(flan.url)
    engine = await pool.get()
    await pool.close()
    with pytest.raises(EngineBusy):  # EngineClosed: "please try again"
        await engine.generate("hi")


def test_the_url_is_checked_and_shown_without_secrets() -> None:
    assert safe_url("https://u:p@host:8000/seqbot/?k=v#x") == "https://host:8000/seqbot/"
    with pytest.raises(EngineError, match="must be http"):
        RemoteEngine("host:8000/seqbot")


# -- through the bot -----------------------------------------------------------------------


async def test_summarize_through_the_remote_engine(make_chat, flan, tiny_flan, remote) -> None:
    text = " ".join(SENTENCES[:3])
    local = EnginePool(FP32, str(tiny_flan))
    try:
        expected = await (await make_chat(plugins=language_tasks(), engine=local)).say_one(
            f"/summarize {text}"
        )
    finally:
        await local.close()
    chat = await make_chat(plugins=language_tasks(), engine=remote(flan.url))
    assert await chat.say_one(f"/summarize {text}") == expected
    assert "POST generate" in flan.seen


async def test_translate_through_a_remote_nllb(make_chat, nllb, tiny_nllb, remote) -> None:
    text = "Notes for today.\n- Buy milk."
    command = f"/translate to German from English {text}"
    local = EnginePool(FP32, "no-default-model")
    try:
        chat = await make_chat(
            plugins=language_tasks(), engine=local, translation_model=str(tiny_nllb)
        )
        expected = await chat.say_one(command)
    finally:
        await local.close()
    chat = await make_chat(
        plugins=language_tasks(), engine=remote(nllb.url), translation_model=str(tiny_nllb)
    )
    reply = await chat.say_one(command)
    assert reply == expected
    assert reply.startswith("**English → German**")


async def test_chat_users_get_one_line_when_the_engine_is_away(make_chat, flan, remote) -> None:
    away = await make_chat(
        plugins=language_tasks(), engine=remote(f"http://127.0.0.1:{closed_port()}/seqbot")
    )
    for command in ("/summarize the meeting moved to noon", "/translate to German hello"):
        assert await away.say_one(command) == UNREACHABLE
    other = await make_chat(
        plugins=language_tasks(),
        engine=remote(flan.url),
        translation_model="facebook/nllb-200-distilled-600M",
    )
    reply = await other.say_one("/translate to German from English hello")
    assert reply.startswith("The model 'facebook/nllb-200-distilled-600M' is not available here")
    assert "Traceback" not in reply and "\n" not in reply


# -- settings and start-up -----------------------------------------------------------------


def test_engine_url_makes_the_bot_use_the_remote_pool(settings: Settings) -> None:
    assert isinstance(make_engine_pool(settings), EnginePool)
    remote_settings = settings.model_copy(
        update={"engine_url": "http://10.0.0.5:8000/seqbot", "engine_retries": 5}
    )
    pool = make_engine_pool(remote_settings)
    assert isinstance(pool, RemotePool)
    assert (pool.engine.url, pool.engine.retries) == ("http://10.0.0.5:8000/seqbot", 5)
    assert pool.engine.timeout == settings.engine_timeout_seconds


def test_engine_url_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQBOT_ENGINE_URL", "http://bot:s3cret@engine:8000/seqbot/")
    settings = load_settings()
    assert settings.engine_url == "http://bot:s3cret@engine:8000/seqbot"
    assert settings.effective()["engine_url"] == "http://engine:8000/seqbot"
    for bad in ("engine:8000", "ftp://engine/seqbot", "http:///seqbot", "http://e:port/x"):
        monkeypatch.setenv("SEQBOT_ENGINE_URL", bad)
        with pytest.raises(ConfigError, match="SEQBOT_ENGINE_URL: must be an http") as err:
            load_settings()
        assert bad not in str(err.value)


def test_chat_offers_no_download_with_a_remote_engine(settings: Settings, monkeypatch) -> None:
    from bot import model_offer

    def never(*args: object) -> bool:
        raise AssertionError("asked the hub")

    monkeypatch.setattr(model_offer, "needs_download", never)
    remote_settings = settings.model_copy(update={"engine_url": "http://engine:8000/seqbot"})
    said: list[str] = []
    model_offer.offer_default_model(remote_settings, confirm=never, say=said.append)
    assert said == []


# -- seqbot model generate --url -----------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SEQBOT_MODEL_DIR", str(tmp_path / "hub"))
    monkeypatch.delenv("SEQBOT_ENGINE_URL", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the tokenizer cache
    monkeypatch.chdir(tmp_path)


def cli(*args: str, input: str | None = None) -> list[str]:
    result = runner.invoke(model_app, ["generate", *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.usefixtures("cli_env")
def test_model_generate_url_prints_what_the_local_engine_prints(flan, tiny_flan, monkeypatch):
    texts = [SENTENCES[0], "hi", LONG]
    for extra in (["--max-new-tokens", "6"], ["--beams", "2", "--max-new-tokens", "5"]):
        local = cli("--model", str(tiny_flan), "--fp32", *extra, *texts)
        assert len(local) == 3
        assert cli("--url", flan.url, *extra, *texts) == local
        assert cli("--url", flan.url, "--model", str(tiny_flan), *extra, *texts) == local
    stdin = "one line\n\nsecond line\n"
    local = cli("--model", str(tiny_flan), "--fp32", input=stdin)
    assert cli("--url", flan.url, input=stdin) == local
    monkeypatch.setenv("SEQBOT_ENGINE_URL", flan.url)
    assert cli(input=stdin) == local  # the bot's engine by default, like the bot
    assert flan.seen.count("GET tokenizer") == 1  # cached for the later runs


@pytest.mark.usefixtures("cli_env")
def test_model_generate_url_errors_are_one_line(flan) -> None:
    cases = [
        (["--url", f"http://127.0.0.1:{closed_port()}/seqbot"], UNREACHABLE),
        (["--url", flan.url, "--fp32"], "--int8/--fp32 choose a local model's precision"),
        (["--url", flan.url, "--model", "other/model"], "not available here"),
    ]
    for args, message in cases:
        result = runner.invoke(model_app, ["generate", *args, "hello"])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0], result.stderr


async def test_a_replica_dying_under_a_request_is_retried_once(flan, remote, local_flan) -> None:
    """Serve answers a plain-text 500 for what a killed replica held: one more try."""
    engine = await remote(flan.url).get()
    died = {"left": 1}

    async def dies_once(request: web.Request) -> web.StreamResponse | None:
        if request.method == "POST" and died["left"]:
            died["left"] -= 1
            return web.Response(status=500, text="Internal Server Error")
        return None

    flan.fault = dies_once
    expected = await local_flan.generate("the cat sat on the mat")
    assert await engine.generate("the cat sat on the mat") == expected
    assert flan.seen[-2:] == ["POST generate", "POST generate"]

    async def always_dies(request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=500, text="Internal Server Error")  # a new one each time

    flan.fault = always_dies
    flan.seen.clear()
    with pytest.raises(EngineUnreachable):
        await engine.score("hi", ["a", "b"])
    assert flan.seen == ["POST score", "POST score"]  # once more, not forever
