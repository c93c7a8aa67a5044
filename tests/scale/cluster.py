"""Two real ``seqbot run`` worker processes on one PostgreSQL schema, and a test in front of them.

What a deployment behind a load balancer looks like, on 127.0.0.1:

* one PostgreSQL schema, reached through a login role of the same name, so the
  workers' plain ``SEQBOT_DATABASE_URL`` lands in it (``"$user"`` leads PostgreSQL's
  default ``search_path``; a URL cannot carry a ``search_path`` for asyncpg);
* a fake Slack Web API (:class:`ParkingSlack`) and a fake Telegram Bot API that
  both workers call;
* worker A and worker B (``python -m bot run``, the real ``seqbot run``, with
  test-sized reminder leases from ``SEQBOT_REMINDER_*`` settings), each with its
  own Slack HTTP port and Telegram webhook port and its own Slack bot token, so
  every Web API call says which worker made it;
* :class:`Cluster`, which posts Slack-signed events and Telegram updates to the
  worker a test names, the way a load balancer forwards them, and re-delivers
  the same ones to the other worker the way a retrying balancer or the platform
  itself would. A worker that refuses the connection (it died) is skipped for
  the other one, as ``proxy_next_upstream error`` does in nginx.

Nothing here sleeps for a fixed time: every wait is for a condition (a reply on
a fake server, a row in the database, a line in a worker's log) with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.transports.telegram.webhook import SECRET_HEADER
from storage.db import Database
from tests.conftest import POSTGRES_URL, _asyncpg_dsn
from tests.slack.conftest import (
    SIGNING_SECRET,
    FakeSlack,
    event_body,
    section_texts,
    signed_headers,
)
from tests.telegram import fake_api
from tests.telegram.fake_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
HOOK_PATH = "/telegram/hook"
HOOK_SECRET = "scale_Secret-1"
#: Reminder leases short enough that a takeover after a crash takes seconds, not a minute:
#: claims of up to 50 rows (concurrency 50 x one 3 s send in the 4 s of a 5 s lease left
#: after the 1 s margin, a fifth of the lease), and a sweep each second.
SHORT_LEASES = {
    "SEQBOT_REMINDER_LEASE_SECONDS": "5",
    "SEQBOT_REMINDER_SEND_TIMEOUT_SECONDS": "3",
    "SEQBOT_REMINDER_SWEEP_SECONDS": "1",
}
T = TypeVar("T")


class Timeout(AssertionError):
    """A condition did not come true before its deadline."""


async def until(check: Callable[[], Awaitable[T] | T], what: str, timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() > deadline:
            raise Timeout(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


# ----- the fake platforms ----------------------------------------------------------------------


@dataclass
class Parked:
    """A reminder post the fake Slack holds unanswered: the platform has not accepted it yet."""

    request: web.Request
    params: dict[str, Any]

    @property
    def worker(self) -> str:
        return token_worker(self.params.get("_auth", ""))

    @property
    def connected(self) -> bool:
        """Whether the worker that sent it still waits for the answer (it did not die)."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()


@dataclass
class ParkingSlack(FakeSlack):
    """:class:`FakeSlack` that can hold reminder posts (``⏰ …``) until :meth:`release`.

    A held post is accepted (recorded in ``calls`` and answered ``ok``) only if its
    sender is still connected when released; the post of a worker killed meanwhile
    never reached the platform, as when a process dies before Slack answers.
    """

    parking: bool = False
    parked: list[Parked] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._release = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        if self.parking and request.match_info["method"] == "chat.postMessage":
            params = await _form_or_json(request)
            if is_reminder(params):
                return await self._park(request, params)
        return await super()._api(request)

    async def _park(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        parked = Parked(request, params)
        self.parked.append(parked)
        await self._notify()
        await self._release.wait()
        if not parked.connected:
            return web.Response(status=503)  # nobody is listening any more
        return await super()._api(request)

    def release(self) -> None:
        """Stop holding reminder posts; those held so far are answered now."""
        self.parking = False
        self._release.set()

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.postMessage`` calls (to ``channel``), in order."""
        return [p for p in self.called("chat.postMessage") if channel in (None, p.get("channel"))]

    def texts(self, channel: str | None = None) -> list[str]:
        """What the accepted posts (to ``channel``) say, as the reader sees it."""
        return [post_text(p) for p in self.posts(channel)]


def post_text(params: dict[str, Any]) -> str:
    return "\n".join(section_texts(params)) or str(params.get("text", ""))


async def _form_or_json(request: web.Request) -> dict[str, Any]:
    raw = await request.text()  # aiohttp keeps the body, so FakeSlack can read it again
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(json.loads(raw or "{}"))
    else:
        params.update(parse_qsl(raw))
    params["_auth"] = request.headers.get("Authorization", "")
    return params


def is_reminder(params: dict[str, Any]) -> bool:
    """A reminder as the dispatcher posts it (``⏰ text``), not a reply to a command."""
    return "⏰" in json.dumps(params, ensure_ascii=False)


def slack_token(worker: str) -> str:
    return f"xoxb-worker-{worker}"


def token_worker(authorization: str) -> str:
    """Which worker made a Web API call, from its bot token."""
    return authorization.rpartition("xoxb-worker-")[2]


def telegram_texts(api: FakeBotAPI, chat_id: int) -> list[str]:
    return [str(c.params.get("text", "")) for c in api.sent("sendMessage", chat_id=str(chat_id))]


# ----- the workers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Worker:
    """One ``seqbot run`` process and where it listens."""

    name: str
    slack_port: int
    telegram_port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}/slack/events"

    @property
    def hook_url(self) -> str:
        return f"http://127.0.0.1:{self.telegram_port}{HOOK_PATH}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def logged(self, line: str) -> bool:
        return line in self.log_text()

    def environment(
        self, database_url: str, slack: FakeSlack, telegram: FakeBotAPI
    ) -> dict[str, str]:
        """What a deployment sets for this worker; none of the caller's SEQBOT_* leaks in."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")}
        return inherited | {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "SEQBOT_DATABASE_URL": database_url,
            "SEQBOT_SLACK_BOT_TOKEN": slack_token(self.name),
            "SEQBOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SEQBOT_SLACK_API_URL": slack.api_url,
            "SEQBOT_SLACK_PORT": str(self.slack_port),
            "SEQBOT_TELEGRAM_TOKEN": fake_api.TOKEN,
            "SEQBOT_TELEGRAM_API_URL": telegram.base_url,
            "SEQBOT_TELEGRAM_WEBHOOK_URL": f"https://bot.example.org{HOOK_PATH}",
            "SEQBOT_TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
            "SEQBOT_TELEGRAM_WEBHOOK_PORT": str(self.telegram_port),
            "SEQBOT_STARTUP_RETRY_SECONDS": "0",
            **SHORT_LEASES,
        }

    async def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                cwd=self.log.parent,  # no .env of the developer's is read
                env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,  # its own process group: the Duckling child goes with it
            )  # fmt: skip

    async def ready(self, timeout: float = 60.0) -> None:
        def started() -> bool:
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.log_text()[-3000:]}")
            return self.logged("seqbot is running")

        await until(started, f"worker {self.name} to start", timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no release of claims, connections cut mid-request."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM and wait (the graceful stop a deployment does); SIGKILL what is left."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a Duckling child left behind, if any


# ----- the cluster -----------------------------------------------------------------------------


@dataclass
class Cluster:
    """The fakes, the two workers and the one database; the test's load balancer."""

    schema: str
    db: Database
    slack: ParkingSlack
    telegram: FakeBotAPI
    workers: dict[str, Worker]
    http: aiohttp.ClientSession
    _update_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def other(self, name: str) -> str:
        return "b" if name == "a" else "a"

    async def _post(
        self, worker: str, url: Callable[[Worker], str], data: bytes, headers: dict[str, str]
    ) -> tuple[str, int]:
        """POST to ``worker``, or to the other one if it refuses (the balancer's failover)."""
        for name in (worker, self.other(worker)):
            try:
                async with self.http.post(url(self.workers[name]), data=data, headers=headers) as r:
                    await r.read()
                    return name, r.status
            except aiohttp.ClientConnectorError:
                continue
        raise AssertionError("no worker accepted the request")

    async def slack_event(
        self,
        worker: str,
        text: str,
        *,
        channel: str,
        event_id: str,
        user: str = "U1",
        retry: int | None = None,
    ) -> tuple[str, int]:
        """A DM from ``user`` in ``channel`` as Slack posts it; returns (who took it, status)."""
        ts = f"{uuid.uuid4().int % 10**6}.1"
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "channel_type": "im"}  # fmt: skip
        body = json.dumps(event_body(event, event_id)).encode()
        headers = signed_headers(body, "application/json", retry=retry)
        return await self._post(worker, lambda w: w.slack_url, body, headers)

    def telegram_update(
        self, chat_id: int, text: str, user_id: int | None = None
    ) -> dict[str, Any]:
        """A private message update with a fresh update id (post it with :meth:`telegram_post`)."""
        sender = fake_api.user(user_id or chat_id)
        return {
            "update_id": next(self._update_ids),
            **fake_api.message(chat_id, text, sender=sender),
        }

    async def telegram_post(self, worker: str, update: dict[str, Any]) -> tuple[str, int]:
        headers = {"Content-Type": "application/json", SECRET_HEADER: HOOK_SECRET}
        return await self._post(worker, lambda w: w.hook_url, json.dumps(update).encode(), headers)

    async def rows(self, query: str, **params: Any) -> list[Any]:
        async with self.db.session() as session:
            return list((await session.execute(text(query), params)).all())


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, *, migrate: bool = True) -> AsyncIterator[Cluster]:
    """Fresh schema, fakes and both workers started in parallel; all stopped afterwards."""
    schema = await new_schema()
    role_url = schema_url(schema)
    db = Database(role_url)
    slack, telegram = ParkingSlack(), FakeBotAPI()
    workers = {
        name: Worker(name, free_port(), free_port(), tmp_path / name / "worker.log")
        for name in ("a", "b")
    }
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(drop_schema, schema)
        stack.push_async_callback(db.dispose)
        if migrate:
            await db.upgrade()  # `seqbot db upgrade` before the workers, as the deployment does
        for fake in (slack, telegram):
            await fake.start()
            stack.push_async_callback(fake.stop)
        stack.callback(slack.release)  # held posts would hold up the fake's shutdown
        http = await stack.enter_async_context(aiohttp.ClientSession())
        for worker in workers.values():
            worker.log.parent.mkdir(parents=True)
            stack.callback(_show_log, worker)  # after the stop (callbacks run last in, first out)
            stack.push_async_callback(worker.stop)
        await asyncio.gather(
            *(w.start(w.environment(role_url, slack, telegram)) for w in workers.values())
        )
        await asyncio.gather(*(w.ready() for w in workers.values()))
        yield Cluster(schema, db, slack, telegram, workers, http)


def _show_log(worker: Worker) -> None:
    """The worker's log on the test's stdout: pytest shows it when the test fails."""
    print(f"----- worker {worker.name} -----\n{worker.log_text()[-6000:]}")


async def new_schema() -> str:
    """A fresh PostgreSQL schema and a login role of the same name, whose password is its name.

    The workers get a plain URL (:func:`schema_url`) and still land in this schema:
    ``"$user"`` leads PostgreSQL's default ``search_path``.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(
        f"CREATE ROLE \"{schema}\" LOGIN PASSWORD '{schema}'",
        f'CREATE SCHEMA "{schema}" AUTHORIZATION "{schema}"',
    )
    return schema


async def drop_schema(schema: str) -> None:
    await _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'DROP ROLE IF EXISTS "{schema}"')


def schema_url(schema: str) -> str:
    """The test server's URL, logging in as the role of ``schema``."""
    url = make_url(POSTGRES_URL).set(username=schema, password=schema)
    return url.render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()
