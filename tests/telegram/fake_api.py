"""A fake Telegram Bot API on 127.0.0.1, and builders for the updates Telegram would send.

The real python-telegram-bot talks HTTP to :class:`FakeBotAPI`, which records
every call, serves pushed updates through ``getUpdates`` (a real long poll),
and can be told to answer the next calls with 429 (``retry_after``), 403,
502 (also as the HTML page a proxy serves) or a 400 for HTML markup only.
Tests push updates and assert on the calls the bot made.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT_ID = 999
BOT_USERNAME = "seq_test_bot"
#: Parameters that python-telegram-bot sends JSON-encoded (strings are sent as they are).
_JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "allowed_updates",
    "commands",
    "message_thread_id",
    "offset",
    "timeout",
    "limit",
    "results",
    "cache_time",
    "is_personal",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    chat_id: str | None = None
    #: Only calls whose parameters include all of these fail (e.g. ``parse_mode="HTML"``).
    match: dict[str, Any] = field(default_factory=dict)
    #: Answer with this HTML page instead of Telegram's JSON error (a proxy's 502 page).
    html: str | None = None

    def applies_to(self, params: dict[str, Any]) -> bool:
        if self.chat_id is not None and self.chat_id != str(params.get("chat_id")):
            return False
        return all(params.get(k) == v for k, v in self.match.items())


#: What nginx in front of the Bot API serves when Telegram is briefly unreachable.
BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class FakeBotAPI:
    """The Bot API methods seqbot uses, in memory."""

    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    polls: list[dict[str, Any]] = field(default_factory=list)
    #: Every method called, in the order the requests arrived (before any answer).
    received: list[str] = field(default_factory=list)
    #: Methods whose calls wait for their event before they are answered (see :meth:`hold`).
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    #: Documents the bot may download, by ``file_id`` (see :func:`document_message`).
    files: dict[str, bytes] = field(default_factory=dict)
    #: Paths of the file downloads the bot made.
    downloads: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # ----- test controls ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        chat_id: str | None = None,
        match: dict[str, Any] | None = None,
        html: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id``, with parameters
        including ``match``, if given) with an error: Telegram's JSON, or the ``html`` page."""
        queue = self.failures.setdefault(method, [])
        queue.extend(
            Failure(status, description, retry_after, chat_id, dict(match or {}), html)
            for _ in range(times)
        )

    def hold(self, method: str) -> asyncio.Event:
        """Keep calls of ``method`` unanswered until the returned event is set.

        A gate, not a delay: the test knows the bot is waiting on that call
        (``received``) and decides when the answer comes.
        """
        return self.held.setdefault(method, asyncio.Event())

    async def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for ``getUpdates``; returns it with its ``update_id``."""
        update = {"update_id": next(self._update_ids), **update}
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update

    def sent(self, method: str = "sendMessage", status: int = 200, **match: Any) -> list[Call]:
        """Calls of ``method`` answered with ``status`` whose parameters include ``match``."""
        return [
            c
            for c in self.calls
            if c.method == method
            and c.status == status
            and all(c.params.get(k) == v for k, v in match.items())
        ]

    async def wait_for(
        self,
        method: str = "sendMessage",
        count: int = 1,
        status: int = 200,
        timeout: float = 10.0,
        **match: Any,
    ) -> list[Call]:
        """Wait until ``count`` matching calls were answered (the timeout only guards hangs)."""

        def enough() -> bool:
            return len(self.sent(method, status, **match)) >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(enough), timeout)
        return self.sent(method, status, **match)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds after some call (the timeout only guards hangs)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def first_poll(self, timeout: float = 10.0) -> dict[str, Any]:
        """The parameters of the bot's first ``getUpdates``, once it has been sent."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.polls)), timeout)
        return self.polls[0]

    # ----- the API ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = _decode(dict(await request.post()))
        async with self._changed:
            self.received.append(method)
            self._changed.notify_all()
        if method in self.held:
            await self.held[method].wait()
        if request.match_info["token"] != TOKEN:
            self.calls.append(Call(method, params, 401))
            return _error(401, "Unauthorized")
        failure = self._take_failure(method, params)
        if failure is not None:
            async with self._changed:
                self.calls.append(Call(method, params, failure.status))
                self._changed.notify_all()
            if failure.html is not None:
                return web.Response(
                    status=failure.status, text=failure.html, content_type="text/html"
                )
            extra = {"retry_after": failure.retry_after} if failure.retry_after else None
            return _error(failure.status, failure.description, extra)
        if method == "getUpdates":
            async with self._changed:
                self.polls.append(params)  # kept apart from ``calls``: there are many
                self._changed.notify_all()
            return _ok(await self._get_updates(params))
        result = self._answer(method, params)
        async with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()
        return _ok(result)

    async def _download(self, request: web.Request) -> web.Response:
        """A file as Telegram's file server serves it, at the ``file_path`` from ``getFile``."""
        path = request.match_info["path"]
        self.downloads.append(path)
        data = self.files.get(path.removeprefix("documents/"))
        if request.match_info["token"] != TOKEN or data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        queue = self.failures.get(method, [])
        for i, failure in enumerate(queue):
            if failure.applies_to(params):
                return queue.pop(i)
        return None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= offset]

        async with self._changed:
            self.updates = pending()  # confirmed updates are forgotten, as Telegram does
            while not pending() and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
            return pending()

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return _bot_user()
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            return {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": _bot_user(),
                "text": params.get("text", ""),
            }
        if method == "getFile":
            file_id = params["file_id"]
            return {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"documents/{file_id}",
            }
        return True  # setMyCommands, deleteWebhook, setWebhook, sendChatAction, answerCallbackQuery


def _decode(form: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) if k in _JSON_PARAMS else v for k, v in form.items()}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "Seq", "username": BOT_USERNAME}


# ----- update builders -----------------------------------------------------------------------

_message_ids = itertools.count(100)
_ENTITY = re.compile(r"(?P<command>^/\S+)|(?P<mention>@\w+)")


def user(user_id: int = 42, first_name: str = "Alice") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Alice"}
    return {"id": chat_id, "type": "supergroup", "title": "Team"}


def message(
    chat_id: int, text: str, *, sender: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``message`` update body with the entities Telegram would add (commands, mentions)."""
    entities = [
        {
            "type": "bot_command" if m["command"] else "mention",
            "offset": m.start(),
            "length": m.end() - m.start(),
        }
        for m in _ENTITY.finditer(text)
    ]
    body = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": sender or user(),
        "text": text,
        **extra,
    }
    if entities:
        body["entities"] = entities
    return {"message": body}


def inline_query(text: str, *, sender: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``inline_query`` update body: ``@bot <text>`` typed in some chat."""
    return {
        "inline_query": {
            "id": str(next(_message_ids)),
            "from": sender or user(),
            "query": text,
            "offset": "",
            "chat_type": "supergroup",
        }
    }


def document_message(
    chat_id: int, file_name: str, data: bytes, caption: str | None = None, **extra: Any
) -> tuple[dict[str, Any], str]:
    """A ``message`` update with a ``document`` (and caption), and its ``file_id`` to serve
    ``data`` under (``api.files[file_id] = data``)."""
    update = message(chat_id, caption or "", **extra)
    body = update["message"]
    del body["text"]
    body.pop("entities", None)
    if caption:
        body["caption"] = caption
        body["caption_entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(caption.split()[0])}
        ]
    file_id = f"doc-{body['message_id']}"
    body["document"] = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": file_name,
        "mime_type": "application/pdf" if file_name.endswith(".pdf") else "text/plain",
        "file_size": len(data),
    }
    return update, file_id


def bot_message(chat_id: int, text: str, message_id: int) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": _bot_user(),
        "text": text,
    }
