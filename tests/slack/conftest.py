"""A fake Slack on 127.0.0.1 and a seqbot whose real HTTP endpoint Slack-signed requests reach.

:class:`FakeSlack` serves the Web API methods seqbot uses (``auth.test``,
``chat.postMessage``, ``chat.postEphemeral``, ``users.info``,
``conversations.info``, ``conversations.replies``, ``chat.getPermalink``,
``views.open``, ``views.publish``, ``apps.connections.open``), the ``response_url``
endpoint, file downloads (``url_private_download``, bot token required) and a
Socket Mode WebSocket. It records every call and can be told
to answer the next calls with 429 + ``Retry-After``, a Slack error, or an
expired response URL. :class:`SlackBot` signs requests exactly as Slack does
(``v0:{timestamp}:{body}``, HMAC-SHA256) and posts them to the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.app import open_bot, start_transport
from bot.core import Bot
from bot.plugins import Task
from bot.settings import Settings
from bot.transports.slack import SlackTransport
from storage.db import Database
from tests.fixtures.tasks import registry

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
#: The ack budget for tests that check /remind's answer in the ack, not the budget: the first
#: /remind in a process starts the duckling worker, which takes seconds on a busy machine.
SLOW_START_ACK_BUDGET = 30.0
BOT_USER = "UBOT"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    channel: str | None = None


@dataclass
class FakeSlack:
    """The Slack Web API, response URLs and Socket Mode, in memory."""

    calls: list[Call] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    expired_urls: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=lambda: {"U1": "Alice", "U2": "Bob"})
    #: ``conversations.replies`` answers: (channel, thread ts) → the thread's messages.
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: Files served at ``url_private_download``: file id → bytes (see :meth:`shared_file`).
    files: dict[str, bytes] = field(default_factory=dict)
    #: Every download request: (file id, its ``Authorization`` header).
    downloads: list[tuple[str, str]] = field(default_factory=list)
    #: Status codes for the next downloads (a failing file host).
    download_failures: list[int] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.socket: web.WebSocketResponse | None = None
        self.socket_connected = asyncio.Event()
        self.socket_replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name or uuid.uuid4().hex}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/files-pri/{team}-{file}/download/{name}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- scripting and inspection -------------------------------------------------------------

    def fail(self, method: str, failure: Failure, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend([failure] * times)

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``check()`` is truthy (a safety timeout only: tests never race it)."""

        async def until() -> Any:
            async with self._changed:
                while not (result := check()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(until(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ----- handlers -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                params.update(json.loads(raw or "{}"))
            else:
                params.update(parse_qsl(raw))
        params["_auth"] = request.headers.get("Authorization", "")
        self.calls.append(Call(method, params))
        await self._notify()
        failure = self._take_failure(method, params)
        if failure is not None:
            headers = (
                {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            )
            body = {"ok": False, "error": failure.error or "ratelimited"}
            return web.json_response(body, status=failure.status, headers=headers)
        return web.json_response(self._answer(method, params))

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        queue = self.failures.get(method) or []
        for index, failure in enumerate(queue):
            if failure.channel is None or failure.channel == params.get("channel"):
                if failure.channel is None:
                    return queue.pop(index)
                return failure  # a channel that refuses the bot keeps refusing
        return None

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": TEAM,
                    "user": "seqbot", "team": "Test", "url": "https://test.slack.com/"}  # fmt: skip
        if method == "chat.postMessage":
            return {"ok": True, "channel": params.get("channel"), "ts": f"1700000000.{next(self._ts):06d}"}  # fmt: skip
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "users.info":
            user = params.get("user", "")
            name = self.users.get(user)
            if name is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "name": name.lower(), "real_name": name,
                                         "profile": {"display_name": name}}}  # fmt: skip
        if method == "conversations.info":
            channel = params.get("channel", "")
            return {"ok": True, "channel": {"id": channel, "is_im": channel.startswith("D")}}
        if method in ("views.open", "views.publish"):
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {**(view or {}), "id": f"V{next(self._ts):04d}"}}
        if method == "conversations.replies":
            key = (params.get("channel", ""), params.get("ts", ""))
            if key not in self.threads:
                return {"ok": False, "error": "thread_not_found"}
            return {"ok": True, "messages": self.threads[key], "has_more": False}
        if method == "chat.getPermalink":
            channel, ts = params.get("channel", ""), params.get("message_ts", "")
            link = f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        url = str(request.url)
        body = await request.json()
        if url in self.expired_urls:
            return web.Response(status=404, text="expired_url")
        self.responses.append((url, body))
        await self._notify()
        return web.Response(text="ok")

    def shared_file(
        self, name: str, data: bytes, mimetype: str, filetype: str, *, size: int | None = None
    ) -> dict[str, Any]:
        """Serve ``data`` and return Slack's file object for it, as a ``file_share`` lists it."""
        file_id = f"F{uuid.uuid4().hex[:10].upper()}"
        self.files[file_id] = data
        base = f"http://127.0.0.1:{self.port}/files-pri/{TEAM}-{file_id}"
        return {
            "id": file_id, "created": int(time.time()), "timestamp": int(time.time()),
            "name": name, "title": name, "mimetype": mimetype, "filetype": filetype,
            "pretty_type": filetype.upper(), "user": "U1", "user_team": TEAM, "editable": False,
            "size": len(data) if size is None else size, "mode": "hosted", "is_external": False,
            "external_type": "", "is_public": False, "public_url_shared": False,
            "display_as_bot": False, "username": "",
            "url_private": f"{base}/{name}", "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://test.slack.com/files/U1/{file_id}/{name}",
            "has_rich_preview": False, "file_access": "visible",
        }  # fmt: skip

    async def _download(self, request: web.Request) -> web.Response:
        """Slack's file host: the bytes for the bot token, a sign-in page for anyone else."""
        file_id = request.match_info["file"]
        auth = request.headers.get("Authorization", "")
        self.downloads.append((file_id, auth))
        await self._notify()
        if self.download_failures:
            return web.Response(status=self.download_failures.pop(0), text="server error")
        if auth != f"Bearer {BOT_TOKEN}":
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found")
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.socket_connected.set()
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self.socket_replies.put(json.loads(message.data))
        return ws

    async def push_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one Socket Mode envelope; returns its id (the bot's ack carries it back)."""
        assert self.socket is not None
        envelope_id = uuid.uuid4().hex
        await self.socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind == "slash_commands",
            }
        )
        return envelope_id


def sign(body: str | bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    raw = body.encode() if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str | bytes, content_type: str, *, age: float = 0, retry: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with ``body``, signed ``age`` seconds ago."""
    timestamp = int(time.time() - age)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, timestamp),
    }
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def section_texts(payload: dict[str, Any]) -> list[str]:
    """The texts of a message's section blocks: what the user reads, buttons aside."""
    return [b["text"]["text"] for b in payload.get("blocks", []) if b["type"] == "section"]


@dataclass
class Posted:
    status: int
    body: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}


class SlackBot:
    """A running seqbot with the Slack transport in HTTP mode, and ways to talk to it as Slack."""

    def __init__(self, bot: Bot, transport: SlackTransport, fake: FakeSlack) -> None:
        self.bot = bot
        self.transport = transport
        self.fake = fake
        self._events = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.transport.http_port}/slack/events"

    async def post_raw(self, body: str | bytes, headers: dict[str, str]) -> Posted:
        data = body.encode() if isinstance(body, str) else body
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=data, headers=headers) as response,
        ):
            return Posted(response.status, await response.text())

    async def post_signed(
        self, body: str | bytes, content_type: str, *, age: float = 0, retry: int | None = None
    ) -> Posted:
        headers = signed_headers(body, content_type, age=age, retry=retry)
        return await self.post_raw(body, headers)

    async def command(
        self,
        command: str,
        text: str,
        *,
        user: str = "U1",
        user_name: str = "alice",
        channel: str = "C1",
        response_url: str | None = None,
    ) -> tuple[Posted, str]:
        """Send a slash command; returns the ack and the command's response URL."""
        response_url = response_url or self.fake.response_url()
        form = command_form(command, text, user, user_name, channel, response_url)
        posted = await self.post_signed(urlencode(form), "application/x-www-form-urlencoded")
        return posted, response_url

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> Posted:
        body = event_body(event, event_id or f"Ev{next(self._events):04d}")
        return await self.post_signed(json.dumps(body), "application/json", retry=retry)

    async def press(
        self, value: str, *, user: str = "U1", channel: str = "C1", response_url: str | None = None
    ) -> Posted:
        payload = action_payload(value, user, channel, response_url or self.fake.response_url())
        return await self.interact(payload)

    async def interact(self, payload: dict[str, Any]) -> Posted:
        """Post an interactivity payload (``block_actions``, ``view_submission``, …) as Slack does."""
        form = urlencode({"payload": json.dumps(payload)})
        return await self.post_signed(form, "application/x-www-form-urlencoded")


def command_form(
    command: str, text: str, user: str, user_name: str, channel: str, response_url: str
) -> dict[str, str]:
    return {
        "token": "legacy", "team_id": TEAM, "team_domain": "test",
        "channel_id": channel, "channel_name": "directmessage" if channel.startswith("D") else "general",
        "user_id": user, "user_name": user_name, "command": command, "text": text,
        "api_app_id": "A0001", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": uuid.uuid4().hex,
    }  # fmt: skip


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": TEAM, "api_app_id": "A0001", "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }  # fmt: skip


def action_payload(value: str, user: str, channel: str, response_url: str) -> dict[str, Any]:
    return {
        "type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A0001",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "channel": {"id": channel, "name": "general"},
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel,
                      "is_ephemeral": False},
        "message": {"type": "message", "ts": "1700000000.000001", "text": "…"},
        "trigger_id": uuid.uuid4().hex, "response_url": response_url,
        "actions": [{"type": "button", "action_id": "seqbot:0", "block_id": "b1", "value": value,
                     "action_ts": str(time.time())}],
    }  # fmt: skip


def home_opened(user: str = "U1", channel: str = "D1", tab: str = "home") -> dict[str, Any]:
    """Slack's ``app_home_opened`` event (the first time: no ``view`` yet)."""
    return {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab,
            "event_ts": f"{time.time():.6f}"}  # fmt: skip


def view_press(
    action_id: str, value: str, view: dict[str, Any], *, user: str = "U1"
) -> dict[str, Any]:
    """``block_actions`` from a button in a view (Home or modal): no channel, no response URL."""
    return {
        "type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A0001",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "container": {"type": "view", "view_id": view.get("id", "V1")},
        "trigger_id": uuid.uuid4().hex,
        "view": {"id": view.get("id", "V1"), "type": view.get("type", "home"),
                 "callback_id": view.get("callback_id", ""),
                 "private_metadata": view.get("private_metadata", ""), "hash": "1.abc",
                 "state": {"values": {}}, "blocks": view.get("blocks", [])},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "action_ts": str(time.time())}],
    }  # fmt: skip


def view_submission(
    view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]], *, user: str = "U1"
) -> dict[str, Any]:
    """Slack's ``view_submission`` for a modal we opened, with the inputs' ``state.values``."""
    return {
        "type": "view_submission", "team": {"id": TEAM, "domain": "test"}, "api_app_id": "A0001",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "trigger_id": uuid.uuid4().hex,
        "view": {"id": view.get("id", "V1"), "team_id": TEAM, "type": "modal",
                 "callback_id": view["callback_id"],
                 "private_metadata": view.get("private_metadata", ""),
                 "blocks": view.get("blocks", []), "state": {"values": values},
                 "hash": "1.abc", "title": view.get("title"), "root_view_id": view.get("id")},
        "response_urls": [], "is_enterprise_install": False,
    }  # fmt: skip


def message_shortcut(
    callback_id: str,
    message: dict[str, Any],
    response_url: str,
    *,
    user: str = "U1",
    channel: str = "C1",
) -> dict[str, Any]:
    """Slack's ``message_action`` payload for a message shortcut used on ``message``."""
    return {
        "type": "message_action", "token": "legacy", "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM, "domain": "test"}, "api_app_id": "A0001",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "channel": {"id": channel, "name": "general"},
        "is_enterprise_install": False, "callback_id": callback_id,
        "trigger_id": uuid.uuid4().hex, "response_url": response_url,
        "message_ts": message["ts"], "message": {"type": "message", **message},
    }  # fmt: skip


def text_value(text: str) -> dict[str, Any]:
    """A ``plain_text_input``'s state (Slack omits ``value`` when nothing was typed)."""
    return {"type": "plain_text_input", "value": text} if text else {"type": "plain_text_input"}


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def slack_settings(settings: Settings, fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": fake.api_url,
        "slack_host": "127.0.0.1",
        "slack_port": 0,
        "default_task": "echo",
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@pytest.fixture
async def make_slack(db: Database, settings: Settings, fake_slack: FakeSlack):  # type: ignore[no-untyped-def]
    """Factory: ``await make_slack(tasks=[...], **settings_overrides)`` → a running :class:`SlackBot`."""
    stack = contextlib.AsyncExitStack()

    async def make(
        *,
        tasks: Sequence[Task] = (),
        ack_budget: float = 2.0,
        with_reminders: bool = False,
        engine: Any = None,
        **overrides: Any,
    ) -> SlackBot:
        local = slack_settings(settings, fake_slack, **overrides)
        bot = await stack.enter_async_context(
            open_bot(
                local,
                db=db,
                plugins=registry(*tasks),
                engine=engine,
                with_engine=False,
                with_reminders=with_reminders,
            )
        )
        transport = SlackTransport(local, ack_budget=ack_budget)
        await start_transport(bot, transport)
        return SlackBot(bot, transport, fake_slack)

    async with stack:
        yield make
