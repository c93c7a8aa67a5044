"""Starting ``seqbot chat``: what it loads and what it offers before the first prompt."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CHAT_ONCE = textwrap.dedent(
    """
    import sys
    from typer.testing import CliRunner
    from bot.cli import app

    result = CliRunner().invoke(app, ["chat", "-c", "/help"])
    assert result.exit_code == 0, result.output
    assert "What I can do" in result.output, result.output
    heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
    print("heavy:", ",".join(heavy) or "none")
    """
)


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")}
    return env | {
        "PYTHONPATH": str(ROOT),
        "SEQBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    }


def test_chat_without_a_model_never_imports_torch(tmp_path: Path) -> None:
    """`seqbot chat -c /help` must start in about a second; importing torch alone takes seconds."""
    result = subprocess.run(
        [sys.executable, "-c", _CHAT_ONCE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "heavy: none" in result.stdout


class Terminal:
    """`seqbot chat` on a pseudo-terminal, as a user starts it in a shell."""

    _ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>])")

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat"],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self._master = master
        self._raw = b""

    @property
    def text(self) -> str:
        """Everything shown so far, without terminal control sequences."""
        return self._ESCAPES.sub("", self._raw.decode("utf-8", "replace")).replace("\r", "")

    def expect(self, wanted: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while wanted not in self.text:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{wanted!r} did not appear; the terminal shows:\n{self.text}")
            ready, _, _ = select.select([self._master], [], [], min(left, 0.5))
            if ready:
                try:
                    self._raw += os.read(self._master, 65536)
                except OSError:  # the program ended and closed the terminal
                    raise AssertionError(f"{wanted!r} never appeared:\n{self.text}") from None

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def close(self) -> int:
        """Wait for the program to end (after /quit) and return its exit code."""
        try:
            return self.process.wait(timeout=60)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._master)


@contextlib.contextmanager
def seqbot_chat(env: dict[str, str], cwd: Path) -> Iterator[Terminal]:
    """Start `seqbot chat` on a terminal; killed at once if the test fails midway."""
    terminal = Terminal(env, cwd)
    try:
        yield terminal
    finally:
        terminal.kill()


@pytest.fixture
def chat_env(tmp_path: Path) -> dict[str, str]:
    """A fresh user's environment: empty model cache, prompt_toolkit on a plain xterm."""
    env = _clean_env(tmp_path) | {
        "HF_HOME": str(tmp_path / "hf"),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    env.pop("HF_HUB_OFFLINE", None)
    return env


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The files of google/flan-t5-small that `seqbot model pull` fetches, with their sizes.
FLAN_FILES = {
    "config.json": 1_404,
    "generation_config.json": 147,
    "model.safetensors": 307_867_048,
    "special_tokens_map.json": 2_201,
    "spiece.model": 791_656,
    "tokenizer.json": 2_422_164,
    "tokenizer_config.json": 2_537,
}
#: Listed by the hub too, but never fetched (the safetensors weights win).
OTHER_FILES = {"pytorch_model.bin": 307_910_733, "tf_model.h5": 439_423_072}
REPO = "google/flan-t5-small"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(BaseHTTPRequestHandler):
    """Just enough of the Hugging Face hub API for model_info and snapshot_download."""

    files: dict[str, bytes]
    sizes: dict[str, int]
    requests: list[str]

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        self.requests.append(self.path)
        path = self.path.split("?")[0]
        if path in (f"/api/models/{REPO}", f"/api/models/{REPO}/revision/main"):
            siblings = [{"rfilename": f, "size": n} for f, n in self.sizes.items()]
            self._send(json.dumps({"id": REPO, "sha": COMMIT, "siblings": siblings}).encode(), body)
        elif path == f"/api/models/{REPO}/tree/{COMMIT}":
            tree = [
                {"type": "file", "path": f, "size": len(data), "oid": _oid(data)}
                for f, data in self.files.items()
            ]
            self._send(json.dumps(tree).encode(), body)
        elif path.startswith(f"/{REPO}/resolve/") and path.rsplit("/", 1)[1] in self.files:
            data = self.files[path.rsplit("/", 1)[1]]
            extra = {"X-Repo-Commit": COMMIT, "ETag": f'"{_oid(data)}"'}
            self._send(data, body, "application/octet-stream", extra)
        else:
            self.send_error(404)

    def _send(
        self, data: bytes, body: bool, kind: str = "application/json", extra: dict | None = None
    ) -> None:
        self.send_response(200)
        for header, value in {"Content-Type": kind, "Content-Length": str(len(data))}.items():
            self.send_header(header, value)
        for header, value in (extra or {}).items():
            self.send_header(header, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _oid(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(data).hexdigest()


@contextlib.contextmanager
def fake_hub(files: dict[str, bytes] | None = None) -> Iterator[tuple[str, list[str]]]:
    """A hub on 127.0.0.1 listing flan-t5-small at its real sizes; serves ``files`` if given."""
    requests: list[str] = []
    handler = type(
        "Hub",
        (FakeHub,),
        {"files": files or {}, "sizes": FLAN_FILES | OTHER_FILES, "requests": requests},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_chat_goes_on_without_the_model_in_one_line_when_the_hub_is_unreachable(
    tmp_path: Path, chat_env: dict[str, str]
) -> None:
    env = chat_env | {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    with seqbot_chat(env, tmp_path) as terminal:
        terminal.expect("you>")
        terminal.type("/quit\r")
        assert terminal.close() == 0, terminal.text
    before_prompt = terminal.text.split("you>")[0]
    [notice] = [line for line in before_prompt.splitlines() if "seqbot model pull" in line]
    assert "google/flan-t5-small" in notice and "cannot be reached" in notice
    assert "Download it now" not in terminal.text
    assert "Traceback" not in terminal.text


def test_chat_offers_the_missing_model_with_its_size_and_goes_on_when_declined(
    tmp_path: Path, chat_env: dict[str, str]
) -> None:
    with fake_hub() as (url, requests):
        env = chat_env | {"HF_ENDPOINT": url}
        once = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "-c", "/help"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
        )  # fmt: skip
        assert once.returncode == 0 and requests == []  # scripts are never asked anything
        with seqbot_chat(env, tmp_path) as terminal:
            terminal.expect(
                "The default model google/flan-t5-small (311 MB) is not downloaded. "
                "Download it now? [Y/n]"
            )
            terminal.type("n\r")
            terminal.expect("you>")
            terminal.type("/quit\r")
            assert terminal.close() == 0, terminal.text
    answered = terminal.text.split("[Y/n]")[1].split("Chatting with seqbot")[0]
    echo, *said = [line.strip() for line in answered.splitlines()]
    assert echo.replace(" ", "") == ":n"  # the typed answer, echoed by the terminal
    assert said == ["The language tasks stay off until `seqbot model pull google/flan-t5-small`."]
    assert not (tmp_path / "hf" / "hub" / "models--google--flan-t5-small").exists()


def test_chat_downloads_the_model_with_a_progress_bar_when_accepted(
    tmp_path: Path, chat_env: dict[str, str]
) -> None:
    # Small stand-ins for the real files; only their names and the listed sizes matter here.
    served = {name: os.urandom(min(size, 200_000)) for name, size in FLAN_FILES.items()}
    with fake_hub(served) as (url, requests):
        env = chat_env | {"HF_ENDPOINT": url}
        with seqbot_chat(env, tmp_path) as terminal:
            terminal.expect("Download it now? [Y/n]")
            terminal.type("\r")  # yes is the default
            terminal.expect("you>")
            terminal.type("/quit\r")
            assert terminal.close() == 0, terminal.text
        assert "Downloaded google/flan-t5-small." in terminal.text
        assert "100%" in terminal.text  # huggingface_hub's progress bar ran to the end
        fetched = {path.rsplit("/", 1)[1] for path in requests if "/resolve/" in path}
        assert fetched == set(FLAN_FILES)

        with seqbot_chat(env, tmp_path) as again:  # now cached: nothing to ask
            again.expect("you>")
            again.type("/quit\r")
            assert again.close() == 0, again.text
        assert "Download it now" not in again.text
