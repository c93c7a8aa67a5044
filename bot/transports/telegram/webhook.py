"""The HTTP endpoint Telegram posts updates to in webhook mode.

An aiohttp server of our own rather than python-telegram-bot's: the secret
header is compared in constant time, bad JSON (even nested 100,000 deep) is a
400 rather than a 500, a body over 1 MB is a 413, and the server shares the
bot's event loop without blocking it.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Updates are a few kilobytes; anything much larger is not from Telegram.
MAX_BODY_BYTES = 1024 * 1024


class InvalidUpdate(ValueError):
    """The body parsed as JSON but is not a Telegram update."""


class WebhookServer:
    """Accepts ``POST path`` with the right secret and hands the JSON body to ``on_update``.

    ``on_update`` raises :class:`InvalidUpdate` for JSON that is not an update;
    that, like unparseable JSON, is answered 400 so nothing of it is stored.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        path: str,
        secret: str,
        on_update: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self._secret = secret.encode()
        self._on_update = on_update
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listen and return the bound port (useful with port 0)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            await self._runner.cleanup()
            self._runner = None
            raise
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.port = sock.getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("refused a webhook request from %s: wrong secret", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict):
                raise InvalidUpdate("not a JSON object")
            await self._on_update(data)
        # ValueError covers JSONDecodeError, UnicodeDecodeError and InvalidUpdate;
        # RecursionError is how json.loads refuses nesting thousands of levels deep.
        except (ValueError, RecursionError) as exc:
            log.warning("refused a webhook request: %s", exc)
            return web.Response(status=400, text="bad update")
        return web.Response(text="ok")
