"""How Slack's requests reach Bolt: our own signed HTTP endpoint, or a Socket Mode WebSocket.

Both hand every request to the same ``AsyncApp``, so listeners cannot tell the
modes apart. Start-up failures become one-line
:class:`~bot.transports.base.TransportStartError` messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.transports.base import PlatformUnreachable, TransportStartError
from bot.transports.slack.delivery import api_error_code
from bot.transports.slack.payloads import JSON_BODY, MalformedRequest, parse_request

log = logging.getLogger(__name__)

#: One path for slash commands, events and interactivity, as the manifest configures.
EVENTS_PATH = "/slack/events"
SOCKET_CONNECT_TIMEOUT = 30.0
#: Slack's replay window for a signed request.
SIGNATURE_MAX_AGE = 5 * 60
#: Request headers Bolt reads (it learns retries from these); nothing else is passed on.
_BOLT_HEADERS = ("X-Slack-Retry-Num", "X-Slack-Retry-Reason")


class HttpEndpoint:
    """``POST /slack/events`` on an aiohttp server: signature, then validation, then Bolt.

    The signature is checked on the raw bytes, so unsigned bodies never reach a
    decoder or parser and always get 401. A signed body must then be one Slack
    sends (:func:`~bot.transports.slack.payloads.parse_request`), else 400.
    Bolt receives the validated request re-encoded as JSON, never the raw body:
    its own parsing trusts every field's type. (That is also why Bolt's
    signature check is off: the re-encoded body is not what Slack signed.)
    """

    def __init__(self, app: AsyncApp, signing_secret: str, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._secret = signing_secret.encode()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int | None:
        if self._runner is None or not self._runner.addresses:
            return None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_post(EVENTS_PATH, self._on_request)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.requested_port).start()
        except OSError as exc:
            await runner.cleanup()
            raise TransportStartError(
                f"Cannot listen for Slack on {self.host}:{self.requested_port} "
                f"({exc.strerror or exc}); change SEQBOT_SLACK_HOST / SEQBOT_SLACK_PORT."
            ) from None
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _on_request(self, request: web.Request) -> web.Response:
        raw = await request.read()  # over client_max_size: aiohttp answers 413
        if not self._signed(request, raw):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            parsed = parse_request(raw, request.content_type)
        except MalformedRequest as exc:
            log.warning("Slack: refused a signed request that Slack would not send (%s)", exc)
            return web.json_response({"error": "malformed request"}, status=400)
        headers = {name: request.headers[name] for name in _BOLT_HEADERS if name in request.headers}
        bolt_request = AsyncBoltRequest(
            body=json.dumps(parsed.model_dump(exclude_none=True)),
            headers=headers | {"Content-Type": JSON_BODY},
        )
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _signed(self, request: web.Request, raw: bytes) -> bool:
        """Slack's HMAC-SHA256 over ``v0:{timestamp}:{body}``, from less than 5 minutes ago.

        Computed over the bytes as received: slack_sdk's verifier decodes the
        body first, which fails on bytes that are not UTF-8.
        """
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape"))


async def connect_socket_mode(
    app: AsyncApp, client: AsyncWebClient, app_token: str
) -> AsyncSocketModeHandler:
    """Check the app token with ``apps.connections.open``, then connect Bolt's handler.

    slack_sdk's client retries a failed connection forever; asking for the URL
    ourselves first turns a bad token into a start-up error instead.
    """
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise TransportStartError(
            f"Slack rejected SEQBOT_SLACK_APP_TOKEN ({api_error_code(exc)}); "
            "create an app-level token with the connections:write scope."
        ) from None
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise PlatformUnreachable(
            f"Could not open a Slack Socket Mode connection: {type(exc).__name__}"
        ) from None
    handler = AsyncSocketModeHandler(app, app_token, web_client=client)
    handler.client.wss_uri = opened["url"]  # use the URL we just checked out
    try:
        await asyncio.wait_for(handler.connect_async(), timeout=SOCKET_CONNECT_TIMEOUT)
    except TimeoutError:
        await handler.close_async()
        raise PlatformUnreachable(
            "Could not connect to Slack's Socket Mode WebSocket within "
            f"{SOCKET_CONNECT_TIMEOUT:.0f} seconds."
        ) from None
    return handler
