"""How Slack's requests reach Bolt: our own signed HTTP endpoint, or a Socket Mode WebSocket.

Both hand every request to the same ``AsyncApp``, so listeners cannot tell the
modes apart. Start-up failures become one-line
:class:`~bot.transports.base.TransportStartError` messages.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.transports.base import TransportStartError
from bot.transports.slack.delivery import api_error_code

log = logging.getLogger(__name__)

#: One path for slash commands, events and interactivity, as the manifest configures.
EVENTS_PATH = "/slack/events"
SOCKET_CONNECT_TIMEOUT = 30.0


class HttpEndpoint:
    """``POST /slack/events`` on an aiohttp server: signature checked, then Bolt dispatches.

    Bolt verifies signatures as well, but only after parsing the body; checking
    first means unsigned bytes never reach a parser and always get 401.
    """

    def __init__(self, app: AsyncApp, signing_secret: str, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._verifier = SignatureVerifier(signing_secret)
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
        body = await request.text()
        if not self._signed(request, body):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers)
            )
        except (ValueError, BoltError):
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _signed(self, request: web.Request, body: str) -> bool:
        """Slack's HMAC over ``v0:{timestamp}:{body}``, from less than 5 minutes ago."""
        try:
            return self._verifier.is_valid(
                body,
                request.headers.get("X-Slack-Request-Timestamp", "0"),
                request.headers.get("X-Slack-Signature", ""),
            )
        except ValueError:  # a timestamp that is not a number
            return False


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
        raise TransportStartError(
            f"Could not open a Slack Socket Mode connection: {type(exc).__name__}"
        ) from None
    handler = AsyncSocketModeHandler(app, app_token, web_client=client)
    handler.client.wss_uri = opened["url"]  # use the URL we just checked out
    try:
        await asyncio.wait_for(handler.connect_async(), timeout=SOCKET_CONNECT_TIMEOUT)
    except TimeoutError:
        await handler.close_async()
        raise TransportStartError(
            "Could not connect to Slack's Socket Mode WebSocket within "
            f"{SOCKET_CONNECT_TIMEOUT:.0f} seconds."
        ) from None
    return handler
