"""An engine server without Ray, for the client's tests: aiohttp plus ``EngineEndpoint``.

The server runs in a thread with its own event loop, as a separate process would: the
client under test never shares a loop with it, and blocking callers (typer's CliRunner)
can use it too. ``server.fault`` lets a test answer a request itself (busy, slow, broken)
before the endpoint sees it; ``server.seen`` lists the requests that arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from bot.engine import Engine, EngineConfig
from bot.serving.client import RemotePool
from bot.serving.protocol import EngineEndpoint
from tests.fixtures import checkpoints

T = TypeVar("T")

#: How every engine in these tests runs: float32, so remote and local agree token for token.
FP32 = EngineConfig(int8=False, max_batch=8, max_queue=64)

#: Answers a request instead of the endpoint (a response), or lets it through (None).
Fault = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


class EngineServer:
    """The engine protocol over HTTP on 127.0.0.1 (a random port), under ``/seqbot``."""

    def __init__(self, endpoint: EngineEndpoint) -> None:
        self.endpoint = endpoint
        self.fault: Fault | None = None
        self.seen: list[str] = []  # "GET info", "POST generate", ...
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self.call(self._start())
        self.url = f"http://127.0.0.1:{self.port}/seqbot"

    def call(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the server's loop and wait for it (from any other thread)."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=60)

    def reset(self) -> None:
        self.fault = None
        self.seen.clear()

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/seqbot/{route:.*}", self._handle)
        # Cancel a handler whose client went away, as Ray Serve's proxy does.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.match_info['route']}")
        if self.fault is not None:
            response = await self.fault(request)
            if response is not None:
                return response
        body = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "invalid", "message": "not JSON"}, status=400)
        status, answer = await self.endpoint.answer(request.method, request.path, body)
        return web.json_response(answer, status=status)

    def close(self) -> None:
        self.call(self._runner.cleanup())
        self.call(self.endpoint.engine.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def load(path: Path, config: EngineConfig = FP32) -> Engine:
    return Engine.load(str(path), config)


@pytest.fixture(scope="session")
def tiny_flan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkpoints.tiny_t5(tmp_path_factory.mktemp("serving-flan"), gated=True, seed=5)


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return checkpoints.tiny_nllb(tmp_path_factory.mktemp("serving-nllb"), seed=10)


@pytest.fixture(scope="session")
def flan_server(tiny_flan: Path) -> Iterator[EngineServer]:
    server = EngineServer(EngineEndpoint(load(tiny_flan)))
    yield server
    server.close()


@pytest.fixture(scope="session")
def nllb_server(tiny_nllb: Path) -> Iterator[EngineServer]:
    server = EngineServer(EngineEndpoint(load(tiny_nllb)))
    yield server
    server.close()


@pytest.fixture
def flan(flan_server: EngineServer) -> Iterator[EngineServer]:
    """The tiny flan model's server, with no faults and an empty request log."""
    flan_server.reset()
    yield flan_server
    flan_server.reset()


@pytest.fixture
def nllb(nllb_server: EngineServer) -> Iterator[EngineServer]:
    nllb_server.reset()
    yield nllb_server
    nllb_server.reset()


@pytest.fixture(scope="session")
def local_flan(tiny_flan: Path) -> Iterator[Engine]:
    """The same checkpoint in this process: what remote answers must equal."""
    engine = load(tiny_flan)
    yield engine
    asyncio.run(engine.stop())


@pytest.fixture(scope="session")
def local_nllb(tiny_nllb: Path) -> Iterator[Engine]:
    engine = load(tiny_nllb)
    yield engine
    asyncio.run(engine.stop())


@pytest.fixture
def make_server() -> Iterator[Callable[[Engine], EngineServer]]:
    """Servers for one test (e.g. an engine with a tiny queue), closed after it."""
    servers: list[EngineServer] = []

    def make(engine: Engine) -> EngineServer:
        server = EngineServer(EngineEndpoint(engine))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Callable[..., RemotePool]]:
    """``remote(url, **options)``: a RemotePool with this test's tokenizer cache, closed after."""
    pools: list[RemotePool] = []

    def make(url: str, **options: Any) -> RemotePool:
        options.setdefault("cache_dir", tmp_path / "tokenizers")
        options.setdefault("retry_delay", 0.01)
        pool = RemotePool(url, **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def closed_port() -> int:
    """A port nothing listens on (bound and released: nobody takes it that fast here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlakyProxy:
    """Drops (resets) the first ``drop`` connections, then forwards bytes to ``port``."""

    def __init__(self, port: int, drop: int) -> None:
        self.target, self.drop = port, drop
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> FlakyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/seqbot"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.drop:
            writer.transport.abort()  # a reset, before any answer
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()
