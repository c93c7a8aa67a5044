"""The Slack transport: slack-bolt's ``AsyncApp`` feeding the core, over HTTP or Socket Mode.

Lifecycle: ``auth.test`` checks the bot token and tells us our user id (so the
router can strip ``<@U…>`` mentions), then requests arrive either on our own
aiohttp server at ``/slack/events`` (HTTP mode; signature checked, then the
body validated, see :class:`HttpEndpoint`) or through Bolt's Socket Mode
handler (no public URL needed). Every request is handled once across workers:
events are claimed in the database by ``event_id``, slash commands and button
presses by ``trigger_id`` (so a replayed signed request does nothing).

Slack wants every slash command acknowledged within 3 seconds. A command
runs in its own asyncio task while the listener waits up to ``ack_budget``
seconds for it: a fast answer is put into the ack itself, anything slower
(and every command of a task that needs the model, at once) is acknowledged
with "Working on it…" and its answer follows through the command's
``response_url``, or ``chat.postMessage`` when that URL has expired.
Replies find their way back by the :class:`Origin` each incoming message
carries.

Beyond messages: the Home tab (:mod:`.home`), the reminder modal that
``/seqbot remind`` alone opens (:mod:`.modals`) and the message shortcuts
(:mod:`.shortcuts`) have listeners of their own, registered before the
catch-all ones (Bolt runs the first listener that matches). Whatever they
make of a request still goes through the core as an ``IncomingMessage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Address, ChatKind, IncomingMessage, Reply
from bot.reminders.delivery import REMINDERS_TASK
from bot.settings import Settings
from bot.transports.base import (
    DeliveryError,
    PlatformUnreachable,
    Receiver,
    Transport,
    TransportStartError,
)
from bot.transports.slack import delivery
from bot.transports.slack.connection import HttpEndpoint, connect_socket_mode
from bot.transports.slack.files import FileDownloader
from bot.transports.slack.home import SETTINGS_BUTTON, SETTINGS_CALLBACK, HomeTab
from bot.transports.slack.hooks import TransportHooks
from bot.transports.slack.modals import REMIND_CALLBACK, ReminderModal, command_target
from bot.transports.slack.payloads import (
    PLATFORM,
    BlockActions,
    BotIdentity,
    EventCallback,
    MessageEvent,
    SlashCommand,
    action_message,
    command_message,
    event_message,
    validated,
)
from bot.transports.slack.rendering import SHARE_BUTTON
from bot.transports.slack.replies import Origin, Outbox
from bot.transports.slack.shortcuts import CALLBACK_IDS, Shortcuts
from storage.events import claim_event, prune_events
from storage.models import utcnow

log = logging.getLogger(__name__)

NOT_ALLOWED = "Sorry, this bot is not enabled for you or in this conversation."
#: Slack allows 3 s for an ack; this leaves room for the network.
DEFAULT_ACK_BUDGET = 2.0
_PRUNE_EVERY = 600.0


class SlackTransport(Transport):
    """Slack through slack-bolt; Socket Mode when an app token is set, HTTP mode otherwise."""

    platform = PLATFORM
    #: Slack has no typing indicator for bot tokens; the core's renewals become rare no-ops.
    typing_interval = 3600.0

    def __init__(
        self,
        settings: Settings,
        *,
        ack_budget: float = DEFAULT_ACK_BUDGET,
        event_memory: timedelta = timedelta(days=1),
    ) -> None:
        self.settings = settings
        self.ack_budget = ack_budget
        self.event_memory = event_memory
        self.client: AsyncWebClient | None = None
        self.me: BotIdentity | None = None
        self._bot: Receiver | None = None
        self._session: aiohttp.ClientSession | None = None
        self._app: AsyncApp | None = None
        self._endpoint: HttpEndpoint | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._outbox: Outbox | None = None
        self._files: FileDownloader | None = None
        self._home: HomeTab | None = None
        self._modal: ReminderModal | None = None
        self._shortcuts: Shortcuts | None = None
        self._names: OrderedDict[str, str] = OrderedDict()
        self._last_prune = 0.0

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        token = self.settings.slack_app_token
        return token is not None and bool(token.get_secret_value())

    @property
    def http_port(self) -> int | None:
        """The port the HTTP endpoint listens on (after start, in HTTP mode)."""
        return self._endpoint.port if self._endpoint is not None else None

    async def start(self, bot: Receiver) -> None:
        token, secret, app_token = self._credentials()  # refuse bad settings before the network
        self._bot = bot
        self._session = aiohttp.ClientSession()
        self.client = delivery.web_client(token, self.settings.slack_api_url, self._session)
        self._files = FileDownloader(self._session, token, self.settings.slack_api_url)
        self._outbox = Outbox(
            self.client, self._session, spawn=self._spawn, on_unavailable=self._chat_unavailable
        )
        hooks = TransportHooks(
            client=self.client, run=self._handle, claim=self._claim, spawn=self._spawn,
            allowed=self._allowed,
        )  # fmt: skip
        self._home = HomeTab(hooks, bot, self.settings)
        self._modal = ReminderModal(hooks, bot, self.settings)
        try:
            self.me = await self._identify()
            self.mention_tokens = (self.me.mention,)
            self._shortcuts = Shortcuts(
                hooks, self._outbox, self._modal, self.me, user_name=self._user_name
            )
            self._app = self._build_app(secret)
            if app_token is not None:
                self._socket = await connect_socket_mode(self._app, self.client, app_token)
            else:
                assert secret is not None
                settings = self.settings
                endpoint = HttpEndpoint(self._app, secret, settings.slack_host, settings.slack_port)
                await endpoint.start()
                self._endpoint = endpoint
        except BaseException:
            await self.stop()
            raise
        mode = "Socket Mode" if app_token else f"HTTP on port {self.http_port}"
        log.info("Slack: running as <@%s> (%s)", self.me.user_id, mode)

    async def stop(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close_async()
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            await endpoint.stop()
        if self._bot is not None:  # replies in progress still need the HTTP session
            await self._bot.idle(timeout=30)
        self._outbox = None
        self._files = None
        self._home = None
        self._modal = None
        self._shortcuts = None
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._app = None

    async def wait_idle(self) -> None:
        """Wait until everything received so far has been answered (tests, shutdown)."""
        if self._bot is not None:
            await self._bot.idle()

    def _credentials(self) -> tuple[str, str | None, str | None]:
        settings = self.settings
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        if not token:
            raise TransportStartError(
                "Set SEQBOT_SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…)."
            )
        if self.socket_mode:
            assert settings.slack_app_token is not None
            app_token = settings.slack_app_token.get_secret_value()
            if not app_token.startswith("xapp-"):
                raise TransportStartError(
                    "SEQBOT_SLACK_APP_TOKEN must be an app-level token (xapp-…) with the "
                    "connections:write scope."
                )
            return token, None, app_token
        secret = settings.slack_signing_secret
        if secret is None or not secret.get_secret_value():
            raise TransportStartError(
                "Slack HTTP mode needs SEQBOT_SLACK_SIGNING_SECRET (Basic Information → "
                "Signing Secret); or set SEQBOT_SLACK_APP_TOKEN to use Socket Mode instead."
            )
        return token, secret.get_secret_value(), None

    async def _identify(self) -> BotIdentity:
        assert self.client is not None
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            code = delivery.api_error_code(exc)
            raise TransportStartError(
                f"Slack rejected SEQBOT_SLACK_BOT_TOKEN ({code}); copy the Bot User OAuth "
                "Token (xoxb-…) again from the app's OAuth & Permissions page."
            ) from None
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PlatformUnreachable(
                f"Could not reach the Slack Web API at {self.settings.slack_api_url}: "
                f"{type(exc).__name__}"
            ) from None
        return BotIdentity(str(auth["user_id"]), auth.get("bot_id"))

    def _build_app(self, secret: str | None) -> AsyncApp:
        app = AsyncApp(
            client=self.client,
            signing_secret=secret or "",
            # Listeners return right after ack(): the answer runs in a task of ours,
            # so requests stay quick and each one is fully dispatched when answered.
            process_before_response=True,
            # HttpEndpoint checks signatures on the raw bytes, before anything parses them.
            request_verification_enabled=False,
            logger=logging.getLogger("bot.transports.slack.bolt"),
            name="seqbot",
        )
        assert self._home is not None
        # Bolt runs the first listener that matches: specific ones before the catch-alls.
        app.action(SETTINGS_BUTTON)(self._home.on_settings_button)
        app.view(SETTINGS_CALLBACK)(self._home.on_settings_submitted)
        app.event("app_home_opened")(self._home.on_opened)
        assert self._modal is not None
        app.view(REMIND_CALLBACK)(self._modal.on_submitted)
        assert self._shortcuts is not None
        for callback_id in CALLBACK_IDS:
            app.shortcut(callback_id)(self._shortcuts.on_shortcut)
        app.action(SHARE_BUTTON)(self._shortcuts.on_share)
        app.command(re.compile(r".+"))(self._on_command)
        app.action(re.compile(r".*"))(self._on_action)
        app.event(re.compile(r".*"))(self._on_event)
        return app

    # ----- incoming --------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._bot is not None
        return self._bot.track(work)

    def _allowed(self, user_id: str, chat_id: str, kind: ChatKind) -> bool:
        """The allow-lists (empty: everyone); DMs are governed by the user list alone."""
        users, channels = self.settings.slack_allowed_users, self.settings.slack_allowed_channels
        if users and user_id not in users:
            return False
        return not (channels and kind != ChatKind.PRIVATE and chat_id not in channels)

    async def _handle(self, message: IncomingMessage, origin: Origin) -> None:
        """Through the core; then the sender's Home is published again if they opened it.

        Channel chatter (not addressed to the bot) changes nothing Home shows: no refresh.
        """
        assert self._bot is not None
        await self._bot.handle(dataclasses.replace(message, origin=origin), self)
        if self._home is not None and (message.addressed or message.action):
            await self._home.refresh(message.user_id)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """Acknowledge within the budget: with the answer if it is ready, else "working…".

        A command whose ``trigger_id`` was already claimed is a replay (or a
        double delivery): it is acknowledged with nothing and not run again.
        """
        parsed = validated(SlashCommand, command)
        if parsed is None:  # HTTP bodies were validated already; this is Socket Mode
            log.warning("Slack: ignored a slash command that Slack would not send")
            await ack()
            return
        try:
            message = command_message(parsed, self.me)
            known = self._names.get(message.user_id)
            if known:  # the display name events use, rather than the legacy user name
                message = dataclasses.replace(message, user_name=known)
            if not self._allowed(message.user_id, message.chat_id, message.chat_kind):
                await ack(text=NOT_ALLOWED, response_type="ephemeral")
                return
            if not await self._claim(_trigger_key(parsed.trigger_id)):
                log.info("Slack: command %s was already handled", parsed.trigger_id)
                await ack()
                return
            if self._opens_modal(message):
                await ack()
                assert self._modal is not None
                target = command_target(
                    message.chat_id, message.chat_kind == ChatKind.PRIVATE, parsed.response_url
                )
                self._spawn(self._modal.open(parsed.trigger_id, message.user_id, target))
                return
            origin = Origin(
                user_id=message.user_id,
                chat_kind=message.chat_kind,
                response_url=parsed.response_url,
                ephemeral=self.settings.slack_ephemeral_results,
                acknowledged=False,
            )
            handling = self._spawn(self._handle(message, origin))
            if not self._needs_model(message):
                await asyncio.wait({handling}, timeout=self.ack_budget)
            assert self._outbox is not None
            await self._outbox.acknowledge(origin, ack, message.address, finished=handling.done())
        except Exception:
            log.exception("Slack: a slash command could not be acknowledged properly")
            with contextlib.suppress(Exception):
                await ack(text="Sorry, something went wrong on my side.", response_type="ephemeral")

    def _opens_modal(self, message: IncomingMessage) -> bool:
        """``/seqbot remind`` (or ``/remind``) with nothing after it: the form instead of a hint."""
        assert self._bot is not None
        route = self._bot.route(message, self)
        spec = route.spec
        return (
            spec is not None
            and spec.task.name == REMINDERS_TASK
            and spec.name == "remind"
            and not route.args.strip()
        )

    def _needs_model(self, message: IncomingMessage) -> bool:
        """Commands of model tasks are slow by nature: acknowledge them without waiting."""
        assert self._bot is not None
        return self._bot.route(message, self).needs_model

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        press = validated(BlockActions, body)
        message = action_message(press) if press is not None else None
        if press is None or message is None:
            return
        if not self._allowed(message.user_id, message.chat_id, message.chat_kind):
            return
        origin = Origin(
            user_id=message.user_id,
            chat_kind=message.chat_kind,
            response_url=press.response_url,
            ephemeral=press.container.is_ephemeral,
        )
        self._spawn(self._handle_once(_trigger_key(press.trigger_id), message, origin))

    async def _handle_once(self, key: str, message: IncomingMessage, origin: Origin) -> None:
        if await self._claim(key):
            await self._handle(message, origin)
        else:
            log.info("Slack: %s was already handled", key)

    async def _on_event(self, body: dict[str, Any]) -> None:
        """Mentions, DMs and channel chatter; anything else is acknowledged and dropped."""
        envelope = validated(EventCallback, body)
        if self.me is None or envelope is None or not isinstance(envelope.event, MessageEvent):
            return
        message = event_message(envelope.event, self.me, "")
        if message is None or not self._allowed(
            message.user_id, message.chat_id, message.chat_kind
        ):
            return
        self._spawn(self._receive_event(envelope.event_id, envelope.event, message))

    async def _receive_event(
        self, event_id: str, event: MessageEvent, message: IncomingMessage
    ) -> None:
        if not await self._claim(event_id):
            log.info("Slack: event %s was already handled", event_id)
            return
        assert self.me is not None
        files = self._files.attachment if self._files is not None else None
        named = event_message(event, self.me, await self._user_name(message.user_id), files)
        if named is not None:
            await self._handle(named, Origin(user_id=named.user_id, chat_kind=named.chat_kind))

    async def _claim(self, key: str) -> bool:
        """True for the first claim of an event id or trigger key by any worker, ever (a day)."""
        assert self._bot is not None
        async with self._bot.db.session() as session:
            first = await claim_event(session, PLATFORM, key)
            if time.monotonic() - self._last_prune > _PRUNE_EVERY:
                self._last_prune = time.monotonic()
                await prune_events(session, utcnow() - self.event_memory)
        return first

    async def _user_name(self, user_id: str) -> str:
        """The person's display name for history and summaries (cached; the id if unknown)."""
        if user_id in self._names:
            self._names.move_to_end(user_id)
            return self._names[user_id]
        name = user_id
        try:
            assert self.client is not None
            info = await delivery.call(lambda: self.client.users_info(user=user_id))  # type: ignore[union-attr]
            user = info.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or user.get("real_name") or user.get("name") or name
        except DeliveryError as exc:
            log.info("Slack: could not look up user %s: %s", user_id, exc)
            return name  # not cached: try again next time
        self._names[user_id] = name
        while len(self._names) > 10_000:
            self._names.popitem(last=False)
        return name

    # ----- outgoing --------------------------------------------------------------------------

    async def send(
        self, address: Address, reply: Reply, *, reply_to: str | None = None
    ) -> str | None:
        if self._outbox is None:
            raise DeliveryError("the Slack transport is not running")
        return await self._outbox.post(address, reply)

    async def reply(self, message: IncomingMessage, reply: Reply) -> str | None:
        if self._outbox is None:
            raise DeliveryError("the Slack transport is not running")
        return await self._outbox.reply(message, reply)

    async def typing(self, address: Address) -> None:
        """Slack offers bots no typing indicator here; slash commands show "Working on it…"."""

    async def _chat_unavailable(self, address: Address, reason: str) -> None:
        assert self._bot is not None
        await self._bot.chat_unavailable(address, reason)


def _trigger_key(trigger_id: str) -> str:
    """Where a command or button press is remembered: beside event ids, which start "Ev"."""
    return f"trigger:{trigger_id}"
