"""``/start`` is a command like the others: listed by ``/help`` and by ``seqbot plugins``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.tasks import registry

ROOT = Path(__file__).resolve().parents[2]


async def test_help_lists_start_with_the_core_commands(make_chat) -> None:
    chat = await make_chat(plugins=registry())
    lines = (await chat.say_one("/help")).splitlines()
    core = next(line for line in lines if line.startswith("- /help"))
    assert core.startswith("- /help, /settings, /forget, /start: ")
    assert "/start: say hello" in await chat.say_one("/help core")
    assert (await chat.say_one("/start")).startswith("Hi ")


def test_seqbot_plugins_lists_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "plugins"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    core = next(line for line in result.stdout.splitlines() if line.split()[1:2] == ["core"])
    assert "/help, /settings, /forget, /start" in core
