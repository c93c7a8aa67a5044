"""Loading task plugins through entry points, as third-party packages would register them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.plugins import PluginRegistry, Task, command
from tests.fixtures.tasks import Echo

ROOT = Path(__file__).resolve().parents[2]


def install_fake_distribution(path: Path, entry_points: dict[str, str]) -> None:
    """Write a minimal installed distribution advertising ``seqbot.tasks`` entry points."""
    info = path / "seqbot_test_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: seqbot-test-plugins\nVersion: 1.0\n"
    )
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[seqbot.tasks]\n{lines}\n")
    (path / "broken_plugin.py").write_text("import module_that_does_not_exist\n")


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_distribution(
        tmp_path,
        {
            "echo": "tests.fixtures.tasks:Echo",
            "broken": "broken_plugin:Task",
            "notatask": "tests.fixtures.tasks:Button",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_points_load_builtins_and_third_party(plugin_path: Path) -> None:
    registry = PluginRegistry()
    registry.load_entry_points()
    assert "core" in registry.tasks  # built-in, through the same mechanism
    assert "echo" in registry.tasks and registry.commands["say"].task.name == "echo"
    failures = {f.entry_point: f for f in registry.failures}
    assert "ModuleNotFoundError" in failures["broken"].error
    assert "module_that_does_not_exist" in failures["broken"].details
    assert failures["notatask"].error.startswith("TypeError")


def test_command_clash_is_refused() -> None:
    class Other(Task):
        name = "other"

        @command("echo")
        async def echo(self, ctx, args):  # type: ignore[no-untyped-def]
            return args

    registry = PluginRegistry()
    registry.add(Echo())
    with pytest.raises(ValueError, match="already registered by task 'echo'"):
        registry.add(Other())
    with pytest.raises(ValueError, match="already taken"):
        registry.add(Echo())


def test_seqbot_plugins_lists_loaded_and_failed(plugin_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1
    assert "ok      echo" in result.stdout and "/echo" in result.stdout
    assert "FAILED  broken" in result.stdout and "ModuleNotFoundError" in result.stdout
