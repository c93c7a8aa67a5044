"""The Telegram transport: python-telegram-bot's ``Application`` feeding the core.

Lifecycle: ``getMe`` checks the token, ``setMyCommands`` fills Telegram's "/"
menu from the registered tasks, then updates arrive by long polling (default)
or through :class:`~bot.transports.telegram.webhook.WebhookServer`. Each update
becomes an :class:`~bot.messages.IncomingMessage` handled in its own asyncio
task, so a slow answer never holds up the next update.

Edited messages are ignored (not requested from Telegram at all): re-running
an edited ``/remind`` would create a second reminder and an edited question
would get a second answer below the first, which is more confusing than
asking the user to send the corrected message again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import CallbackQuery, ChatMemberUpdated, ReplyParameters, Update
from telegram.constants import ChatAction, ChatMemberStatus, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.messages import Address, Reply
from bot.settings import Settings
from bot.transports.base import DeliveryError, Transport, TransportStartError, mark_unavailable
from bot.transports.telegram.delivery import ChatRateLimiter, deliver
from bot.transports.telegram.rendering import CallbackActions, html_chunks, keyboard, menu_commands
from bot.transports.telegram.updates import PLATFORM, BotIdentity, incoming_message, incoming_press
from bot.transports.telegram.webhook import InvalidUpdate, WebhookServer

if TYPE_CHECKING:
    from bot.core import Bot

log = logging.getLogger(__name__)

#: Update kinds requested from Telegram; edited messages are deliberately not among them.
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramTransport(Transport):
    """Telegram through python-telegram-bot; polling unless a webhook URL is configured.

    The keyword arguments exist for tests and unusual deployments: how long a
    long poll waits, the delays between retries of a failed request, and the
    per-chat message budget.
    """

    platform = PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        poll_timeout: int = 30,
        retry_backoff: Sequence[float] = (1.0, 3.0, 9.0),
        per_chat_burst: int = 3,
        per_chat_period: float = 3.0,
    ) -> None:
        if settings.telegram_token is None:
            raise TransportStartError("Set SEQBOT_TELEGRAM_TOKEN to the token from @BotFather.")
        self.settings = settings
        self.poll_timeout = poll_timeout
        self.retry_backoff = tuple(retry_backoff)
        self._limits = (per_chat_burst, per_chat_period)
        self._token = settings.telegram_token.get_secret_value()
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._bot: Bot | None = None
        self._me: BotIdentity | None = None
        self._webhook: WebhookServer | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._callbacks = CallbackActions()
        #: The transport is registered (and reminders may be sent through it) while
        #: start() still talks to Telegram; sends wait for ``_started`` meanwhile.
        self._starting = False
        self._started = asyncio.Event()

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook server listens on (after start, in webhook mode)."""
        return self._webhook.port if self._webhook else None

    async def start(self, bot: Bot) -> None:
        self._starting = True
        self._started.clear()
        try:
            await self._start(bot)
        finally:
            self._starting = False
            self._started.set()

    async def _start(self, bot: Bot) -> None:
        secret = self._webhook_secret()  # refuse a bad configuration before any network call
        self._bot = bot
        app = self._build_application(webhook=secret is not None)
        try:
            await app.initialize()  # getMe: checks the token
        except InvalidToken:
            await app.bot.shutdown()
            raise TransportStartError(
                "Telegram rejected the bot token; copy it again from @BotFather "
                "into SEQBOT_TELEGRAM_TOKEN."
            ) from None
        except TelegramError as exc:
            await app.bot.shutdown()
            raise TransportStartError(
                f"Could not reach the Telegram Bot API at {self._safe_api_url()}: "
                f"{self._scrub(exc.message)}"
            ) from None
        self._app = app
        me = app.bot.bot
        self._me = BotIdentity(me.id, me.username or "")
        if me.username:
            self.bot_aliases = (me.username,)
        await self._set_menu(bot)
        app.add_handler(TypeHandler(Update, self._on_update))
        await app.start()
        try:
            if secret is None:
                assert app.updater is not None
                await app.updater.start_polling(
                    timeout=timedelta(seconds=self.poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=self._polling_error,
                )
            else:
                await self._start_webhook(app, secret)
        except (TelegramError, OSError) as exc:
            await self.stop()
            raise TransportStartError(
                f"Telegram updates could not be started: {self._scrub(str(exc))}"
            ) from None
        log.info("Telegram: running as @%s (%s)", me.username, "webhook" if secret else "polling")
        if not me.can_read_all_group_messages:
            log.info(
                "Telegram: privacy mode is on, so group chatter is not visible to the bot "
                "(only commands, mentions and replies); see docs/telegram.md to change it"
            )

    async def stop(self) -> None:
        app, self._app = self._app, None
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if self._handling:  # replies in progress still need the HTTP client
            await asyncio.wait(list(self._handling), timeout=30)
        await app.shutdown()

    async def wait_idle(self) -> None:
        """Wait until every update received so far has been answered (tests, shutdown)."""
        while self._handling:
            await asyncio.gather(*list(self._handling), return_exceptions=True)

    def _build_application(self, *, webhook: bool) -> Application[Any, Any, Any, Any, Any, Any]:
        burst, period = self._limits
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.settings.telegram_api_url)
            .rate_limiter(ChatRateLimiter(per_chat_burst=burst, per_chat_period=period))
            .job_queue(None)
        )
        if webhook:
            builder = builder.updater(None)
        return builder.build()

    def _webhook_secret(self) -> str | None:
        if not self.settings.telegram_webhook_url:
            return None
        secret = self.settings.telegram_webhook_secret
        if secret is None or not secret.get_secret_value():
            raise TransportStartError(
                "Webhook mode needs SEQBOT_TELEGRAM_WEBHOOK_SECRET (1-256 letters, digits, _ or -)."
            )
        value = secret.get_secret_value()
        if not _SECRET_FORMAT.fullmatch(value):
            raise TransportStartError(
                "SEQBOT_TELEGRAM_WEBHOOK_SECRET may only use letters, digits, _ and - "
                "(at most 256 characters)."
            )
        return value

    async def _start_webhook(
        self, app: Application[Any, Any, Any, Any, Any, Any], secret: str
    ) -> None:
        url = self.settings.telegram_webhook_url or ""
        self._webhook = WebhookServer(
            host=self.settings.telegram_webhook_host,
            port=self.settings.telegram_webhook_port,
            path=urlsplit(url).path or "/",
            secret=secret,
            on_update=self._receive_webhook_update,
        )
        await self._webhook.start()
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def _receive_webhook_update(self, data: dict[str, Any]) -> None:
        assert self._app is not None
        try:
            update = Update.de_json(data, self._app.bot)
        except Exception as exc:  # the library raises whatever a malformed field trips over
            raise InvalidUpdate(f"not a Telegram update ({type(exc).__name__})") from None
        if not isinstance(update.update_id, int):
            raise InvalidUpdate("update_id is not an integer")
        await self._app.update_queue.put(update)

    async def _set_menu(self, bot: Bot) -> None:
        """Fill Telegram's command menu; a failure only costs the menu, so it is logged."""
        assert self._app is not None
        try:
            await self._app.bot.set_my_commands(menu_commands(bot.plugins))
        except TelegramError as exc:
            log.warning("Telegram: could not set the command menu: %s", self._scrub(str(exc)))

    def _polling_error(self, exc: TelegramError) -> None:
        log.warning("Telegram: polling failed, retrying: %s", self._scrub(str(exc)))

    def _safe_api_url(self) -> str:
        return self._scrub(self.settings.telegram_api_url)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "********") if self._token else text

    # ----- incoming --------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if self._bot is None or self._me is None:
            return
        if update.callback_query is not None:
            self._spawn(self._pressed(update.callback_query))
        elif update.my_chat_member is not None:
            self._spawn(self._membership_changed(update.my_chat_member))
        elif update.effective_message is not None:
            message = incoming_message(update.effective_message, self._me)
            if message is not None:
                self._spawn(self._bot.handle(message, self))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _pressed(self, query: CallbackQuery) -> None:
        """Stop the button's spinner first, then run the task's action."""
        assert self._bot is not None and self._app is not None
        try:
            await self._app.bot.answer_callback_query(query.id)
        except TelegramError as exc:
            log.info("Telegram: could not answer a button press: %s", exc)
        message = incoming_press(query, self._callbacks.decode(query.data or ""))
        if message is not None and message.action:
            await self._bot.handle(message, self)

    async def _membership_changed(self, change: ChatMemberUpdated) -> None:
        """Removed or blocked: pause the chat's reminders now rather than at the next send."""
        assert self._bot is not None
        status = change.new_chat_member.status
        if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            address = Address(PLATFORM, str(change.chat.id))
            reason = "the bot was removed from the chat or blocked"
            try:
                paused = await mark_unavailable(self._bot.services.db, address, reason)
            except Exception:  # the next failed send records it instead
                log.exception("Telegram: could not record leaving chat %s", change.chat.id)
                return
            log.info("Telegram: chat %s left; %d reminders paused", change.chat.id, paused)

    # ----- outgoing --------------------------------------------------------------------------

    async def send(
        self, address: Address, reply: Reply, *, reply_to: str | None = None
    ) -> str | None:
        if self._starting:
            await self._started.wait()
        app = self._app
        if app is None:
            raise DeliveryError("the Telegram transport is not running")
        chunks = html_chunks(reply.text)
        if not chunks:
            if not reply.buttons:
                return None
            chunks = ["…"]
        markup = keyboard(reply.buttons, self._callbacks)
        thread = int(address.thread_id) if address.thread_id else None
        replying = (
            ReplyParameters(int(reply_to), allow_sending_without_reply=True)
            if reply_to and reply_to.isdigit()
            else None
        )
        first_id: str | None = None
        for index, chunk in enumerate(chunks):
            sent = await deliver(
                lambda chunk=chunk, index=index: app.bot.send_message(
                    chat_id=address.chat_id,
                    text=chunk,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                    reply_parameters=replying if index == 0 else None,
                    reply_markup=markup if index == len(chunks) - 1 else None,
                ),
                chat_id=address.chat_id,
                backoff=self.retry_backoff,
            )
            if first_id is None:
                first_id = str(sent.message_id)
        return first_id

    async def typing(self, address: Address) -> None:
        if self._app is None:
            return
        await self._app.bot.send_chat_action(
            chat_id=address.chat_id,
            action=ChatAction.TYPING,
            message_thread_id=int(address.thread_id) if address.thread_id else None,
        )
