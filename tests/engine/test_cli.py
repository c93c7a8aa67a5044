"""``seqbot model ...`` as an operator uses it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.engine import Engine, EngineConfig, GenerationOptions
from bot.engine.cli import model_app
from tests.fixtures.checkpoints import SENTENCES

runner = CliRunner()


def generated(path: Path, texts: list[str], max_new_tokens: int) -> list[str]:
    """What the engine itself answers (float32), one line per text as the command prints."""

    async def run() -> list[str]:
        engine = Engine.load(str(path), EngineConfig(int8=False))
        try:
            opts = GenerationOptions(max_new_tokens=max_new_tokens)
            return [r.text.replace("\n", " ") for r in await engine.generate_batch(texts, opts)]
        finally:
            await engine.stop()

    return asyncio.run(run())


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SEQBOT_MODEL_DIR", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)


def test_generate_prints_one_line_per_input(flan_dir: Path) -> None:
    result = runner.invoke(
        model_app,
        [
            "generate",
            "--model",
            str(flan_dir),
            "--max-new-tokens",
            "5",
            "--fp32",
            SENTENCES[0],
            "hi",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == generated(flan_dir, [SENTENCES[0], "hi"], 5)


def test_generate_reads_stdin_and_supports_beams(marian_dir: Path) -> None:
    result = runner.invoke(
        model_app,
        ["generate", "--model", str(marian_dir), "--beams", "2", "--max-new-tokens", "4"],
        input="one line\n\nsecond line\n",
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_info_describes_a_local_model(t5_dir: Path) -> None:
    result = runner.invoke(model_app, ["info", str(t5_dir)])
    assert result.exit_code == 0, result.output
    assert "model_type         t5" in result.stdout
    assert "model.safetensors" in result.stdout


def test_offline_without_the_model_is_one_clear_line() -> None:
    result = runner.invoke(model_app, ["generate", "--model", "google/flan-t5-small", "hello"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "seqbot model pull google/flan-t5-small" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pull_offline_fails_cleanly() -> None:
    result = runner.invoke(model_app, ["pull", "google/flan-t5-small"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot download 'google/flan-t5-small'")
    assert len(result.stderr.strip().splitlines()) == 1
