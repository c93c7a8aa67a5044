"""The engine on a real local Ray Serve: same answers as in process, errors, a replica's
death, and ``seqbot engine serve`` as users run it.

Ray starts once for the module (see :mod:`.ray_fixtures`); the command-line test starts
its own Ray in the subprocess and runs first, before the module's Ray exists, so the two
never compete for the 2 CPUs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import torch
from typer.testing import CliRunner

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.serving.protocol import options_to_json, result_from_json, score_from_json
from tests.fixtures.checkpoints import SENTENCES, tiny_t5

from .ray_fixtures import (
    ENGINE_CONFIG,
    ServeApp,
    free_port,
    replica_pids,
    running_app,
    wait_for_replacement,
)


def _ray_installed() -> bool:
    """Without importing Ray (seconds); ``sys.modules["ray"] = None`` counts as absent."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


RAY = _ray_installed()
requires_ray = pytest.mark.skipif(
    not RAY, reason="ray[serve] is not installed (pip install -e '.[scale]')"
)
#: Ray Serve's own pydantic models warn on import; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("seqbot")
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "bot"]

TEXTS = [SENTENCES[0], "hi", SENTENCES[3] + " " + SENTENCES[4], "translate: cats", SENTENCES[6]]
OPTIONS = {
    "greedy": GenerationOptions(max_new_tokens=12),
    "beams": GenerationOptions(max_new_tokens=10, num_beams=3, length_penalty=0.8),
    "penalties": GenerationOptions(
        max_new_tokens=14, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=5
    ),
}
#: Long enough (on a tiny model) that a replica is killed while it decodes.
BURST = {
    "texts": [SENTENCES[5]],
    "options": {"max_new_tokens": 400, "min_new_tokens": 400, "num_beams": 2},
}
#: A request that decodes for a few seconds on one replica (16 rows, 400 steps).
LONG = {"texts": SENTENCES[:4], "options": {**BURST["options"], "num_beams": 4}}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_t5(tmp_path_factory.mktemp("serve-t5"), gated=True, seed=5)


@pytest.fixture(scope="module")
def app(model_dir: Path) -> Iterator[ServeApp]:
    with running_app(model_dir) as running:
        yield running


@pytest.fixture(scope="module")
def local_engine(model_dir: Path) -> Iterator[Engine]:
    """The in-process engine with the replicas' config (one torch thread, restored after)."""
    threads = torch.get_num_threads()
    engine = Engine.load(str(model_dir), ENGINE_CONFIG)
    yield engine
    asyncio.run(engine.close())
    torch.set_num_threads(threads)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, url: str, body: object = None, raw: bytes | None = None
) -> tuple[int, Any]:
    """Status and JSON body (None if the body is not JSON) of GET, or POST with a body."""
    if body is None and raw is None:
        request = http.get(url)
    else:
        request = http.post(url, json=body) if raw is None else http.post(url, data=raw)
    async with request as response:
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, None


# -- the command line: runs first, with its own Ray ----------------------------------------


@requires_ray
def test_serve_command_prints_url_answers_and_stops_on_sigterm(
    model_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQBOT_", "RAY_"))}
    args = ["engine", "serve", "--model", str(model_dir), "--replicas", "1", "--fp32"]
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, *args, "--host", "127.0.0.1", "--port", str(port)],
            stdout=stdout,
            stderr=stderr,
            cwd=tmp_path,
            env=env | {"PYTHONPATH": str(ROOT)},
        )
    try:
        url = f"http://127.0.0.1:{port}/seqbot"
        _wait_for_line(process, out, url, timeout=120)
        status, info, in_flight = asyncio.run(_info_then_sigterm(url, process))
        assert status == 200 and info["model"] == str(model_dir)
        assert process.wait(timeout=90) == 0, err.read_text()[-3000:]
        assert in_flight[0] == 200, in_flight  # finished although SIGTERM came meanwhile
        assert len(in_flight[1]["results"]) == len(LONG["texts"])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"SEQBOT_ENGINE_URL={url}" in out.read_text()
    assert "Traceback" not in err.read_text()


def _wait_for_line(process: subprocess.Popen[bytes], out: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in out.read_text():
        assert process.poll() is None, f"seqbot engine serve exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no {text!r} on stdout within {timeout:.0f}s"
        time.sleep(0.3)


async def _info_then_sigterm(
    url: str, process: subprocess.Popen[bytes]
) -> tuple[int, Any, tuple[int, Any]]:
    """GET /info, then SIGTERM while a long generate request is in flight."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        status, info = await call(session, url + "/info")
        request = asyncio.ensure_future(call(session, url + "/generate", LONG))
        await asyncio.sleep(0.5)
        assert not request.done(), await request
        process.send_signal(signal.SIGTERM)
        return status, info, await request


def test_bad_options_are_one_line_without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked before Ray is imported; without Ray the command says how to install it."""
    from bot.cli import app as cli

    runner = CliRunner()
    cases = {
        ("--replicas", "2", "--autoscale", "1:3"): "not both",
        ("--autoscale", "4:2"): "MIN is larger than MAX",
        ("--autoscale", "two"): "MIN:MAX",
        ("--replicas", "0"): "at least 1",
    }
    for args, message in cases.items():
        result = runner.invoke(cli, ["engine", "serve", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = runner.invoke(cli, ["engine", "serve"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: Install the scale extra: pip install -e '.[scale]'"


@requires_ray
def test_build_app_lets_each_replica_fill_its_batch_and_queue() -> None:
    """Serve's per-replica limit is the engine's batch plus queue, not Serve's 5."""
    from bot.serving.deployment import build_app

    config = EngineConfig(max_batch=16, max_queue=100, timeout=30.0)
    fixed = build_app("some/model", replicas=3, config=config, cpus_per_replica=2)
    deployment = fixed._bound_deployment
    assert deployment.num_replicas == 3 and deployment.max_ongoing_requests == 116
    assert deployment.ray_actor_options["num_cpus"] == 2
    assert deployment.init_args == ("some/model", dataclasses.replace(config, threads=2))
    auto = build_app("some/model", autoscale=(0, 4), int8=False, config=config)
    scaling = auto._bound_deployment._deployment_config.autoscaling_config
    assert (scaling.min_replicas, scaling.initial_replicas, scaling.max_replicas) == (0, 1, 4)
    assert scaling.target_ongoing_requests == 16
    assert auto._bound_deployment.init_args[1].int8 is False
    with pytest.raises(ValueError, match="not both"):
        build_app("some/model", replicas=2, autoscale=(1, 2))


@requires_ray
def test_the_serve_config_builder_reads_the_kuberay_args(monkeypatch) -> None:
    """docker/kuberay/rayservice.yaml's ``args`` build the same application as the CLI."""
    import yaml

    from bot.serving.deployment import app_builder

    monkeypatch.setenv("SEQBOT_ENGINE_MAX_BATCH", "8")
    manifest = yaml.safe_load(Path("docker/kuberay/rayservice.yaml").read_text())
    serve_config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    [application] = serve_config["applications"]
    assert application["import_path"] == "bot.serving.deployment:app_builder"
    built = app_builder(application["args"])._bound_deployment
    scaling = built._deployment_config.autoscaling_config
    assert (scaling.min_replicas, scaling.max_replicas) == (1, 4)
    assert built.ray_actor_options["num_cpus"] == 2
    model, config = built.init_args
    assert model == "google/flan-t5-small" and config.max_batch == 8 and config.int8 is True
    fixed = app_builder({"model": "some/model", "replicas": 2, "int8": False})._bound_deployment
    assert fixed.num_replicas == 2 and fixed.init_args[1].int8 is False


# -- the application on the module's Ray ------------------------------------------------


@requires_ray
@pytest.mark.parametrize("name", OPTIONS)
async def test_generate_equals_in_process_token_for_token(
    app: ServeApp, local_engine: Engine, http: aiohttp.ClientSession, name: str
) -> None:
    options = OPTIONS[name]
    expected = await local_engine.generate_batch(TEXTS, options)
    status, body = await call(
        http, app.url + "/generate", {"texts": TEXTS, "options": options_to_json(options)}
    )
    assert status == 200, body
    assert [result_from_json(r) for r in body["results"]] == expected
    one_each = {"options": options_to_json(options)}  # concurrent requests, batched remotely
    answers = await asyncio.gather(
        *(call(http, app.url + "/generate", {"texts": [t], **one_each}) for t in TEXTS)
    )
    assert [result_from_json(body["results"][0]) for _, body in answers] == expected


@requires_ray
async def test_score_equals_in_process(
    app: ServeApp, local_engine: Engine, http: aiohttp.ClientSession
) -> None:
    for source, candidates in [
        (SENTENCES[1], ["das Haus ist wunderbar", "the house", SENTENCES[8]]),
        ("hi", ["hello"]),
        (SENTENCES[2], []),
    ]:
        expected = await local_engine.score(source, candidates)
        status, body = await call(
            http, app.url + "/score", {"source": source, "candidates": candidates}
        )
        assert status == 200, body
        assert [score_from_json(s) for s in body["scores"]] == expected


@requires_ray
async def test_info_stats_and_tokenizer(app: ServeApp, http: aiohttp.ClientSession) -> None:
    status, info = await call(http, app.url + "/info")
    assert status == 200 and info["model"] == str(app.model) and info["family"] == "t5"
    assert info["stats"]["int8"] is False and info["stats"]["threads"] == 1
    status, stats = await call(http, app.url + "/stats")
    assert status == 200 and stats["max_batch"] == ENGINE_CONFIG.max_batch
    status, tokenizer = await call(http, app.url + "/tokenizer")
    assert status == 200 and tokenizer["digest"] == info["tokenizer_digest"]
    assert "tokenizer.json" in tokenizer["files"]
    assert not any(name.endswith(".safetensors") for name in tokenizer["files"])


@requires_ray
async def test_errors_map_to_kinds(app: ServeApp, http: aiohttp.ClientSession) -> None:
    bad = [
        {"texts": ["hi"], "options": {"num_beams": 0}},
        {"texts": ["hi"], "options": {"beams": 2}},
        {"texts": ["hi"], "options": {"max_new_tokens": "12"}},
        {"texts": "hi"},
    ]
    for body in bad:
        status, answer = await call(http, app.url + "/generate", body)
        assert (status, answer["error"]) == (400, "invalid"), (body, answer)
    status, answer = await call(http, app.url + "/generate", raw=b"{not json")
    assert (status, answer["error"]) == (400, "invalid")
    status, answer = await call(http, app.url + "/score", {"source": 1, "candidates": []})
    assert (status, answer["error"]) == (400, "invalid")
    for route in ("/nope", "/generate/extra"):
        status, answer = await call(http, app.url + route)
        assert (status, answer["error"]) == (404, "invalid"), route
    status, answer = await call(http, app.url + "/info", {"texts": []})  # POST to a GET route
    assert status == 404


async def timed(coro: Awaitable[tuple[int, Any]]) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, body = await coro
    return status, body, time.monotonic() - started


@requires_ray
async def test_killed_replica_fails_its_requests_and_is_replaced(
    app: ServeApp, http: aiohttp.ClientSession
) -> None:
    """SIGKILL one of two replicas while both decode a burst of 40 requests.

    The requests it held (and any Serve routes to it before it notices) end with HTTP
    500 right away; the others finish; none waits longer than the engine's timeout.
    """
    pids = replica_pids()
    assert len(pids) == 2
    burst = [
        asyncio.ensure_future(timed(call(http, app.url + "/generate", BURST))) for _ in range(40)
    ]
    await asyncio.sleep(0.5)  # all 40 are routed and decoding; none has finished
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    answers = await asyncio.wait_for(asyncio.gather(*burst), timeout=90)
    statuses = sorted(status for status, _, _ in answers)
    assert statuses[0] == 200 and statuses[-1] == 500, statuses
    for status, body, seconds in answers:
        assert seconds < ENGINE_CONFIG.timeout + 5, f"a request took {seconds:.1f}s"
        assert status in (200, 500), (status, body)
        if status == 200:
            assert len(body["results"][0]["token_ids"]) == 400
    new = await asyncio.to_thread(wait_for_replacement, victim)
    assert victim not in new
    after = await asyncio.gather(
        *(call(http, app.url + "/generate", {"texts": [t]}) for t in TEXTS * 2)
    )
    assert [status for status, _ in after] == [200] * len(after)
