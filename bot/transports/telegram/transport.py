"""The Telegram transport: python-telegram-bot's ``Application`` feeding the core.

Lifecycle: ``getMe`` checks the token, ``setMyCommands`` fills Telegram's "/"
menu from the registered tasks (English, then one per language in
:mod:`~bot.transports.telegram.menus`), then updates arrive by long polling (default)
or through :class:`~bot.transports.telegram.webhook.WebhookServer`. Each update
becomes an :class:`~bot.messages.IncomingMessage` handled in its own asyncio
task, so a slow answer never holds up the next update; an update Telegram
delivers twice is handled once, by whichever worker claims it first
(:mod:`~bot.transports.telegram.repeats`).

Inline queries (``@bot translate …`` in any chat) run through the core too, their
replies collected into ``answerInlineQuery`` (:mod:`~bot.transports.telegram.inline`).
Documents reach tasks as :class:`~bot.messages.Attachment` descriptions whose bytes
are downloaded (``getFile``) only when a task reads them.

Edited messages are ignored (not requested from Telegram at all): re-running
an edited ``/remind`` would create a second reminder and an edited question
would get a second answer below the first, which is more confusing than
asking the user to send the corrected message again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from telegram import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineQuery,
    InlineQueryResultArticle,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.errors import UserError
from bot.messages import Address, IncomingMessage, Reply
from bot.settings import Settings
from bot.transports.base import (
    DeliveryError,
    PlatformUnreachable,
    Receiver,
    Transport,
    TransportStartError,
)
from bot.transports.telegram import schema
from bot.transports.telegram.delivery import (
    ChatRateLimiter,
    MarkupRejected,
    QuietRequest,
    deliver,
    reason,
)
from bot.transports.telegram.inline import (
    CACHE_SECONDS,
    InlineAnswer,
    InlineCache,
    answer_articles,
    help_article,
    inline_command,
    inline_message,
    is_inline_chat,
)
from bot.transports.telegram.menus import MENU_LANGUAGES
from bot.transports.telegram.rendering import (
    CallbackActions,
    html_chunks,
    keyboard,
    menu_commands,
    plain_text,
)
from bot.transports.telegram.repeats import HandledUpdates
from bot.transports.telegram.updates import PLATFORM, BotIdentity, incoming_message, incoming_press
from bot.transports.telegram.webhook import InvalidUpdate, WebhookServer
from storage.models import User

log = logging.getLogger(__name__)

#: Update kinds requested from Telegram; edited messages are deliberately not among them.
ALLOWED_UPDATES = [
    "message",
    "channel_post",
    "callback_query",
    "my_chat_member",
    "inline_query",
]
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


def file_url(api_url: str) -> str:
    """Where files are downloaded from, next to the Bot API URL: ``…/bot`` → ``…/file/bot``."""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("bot")] + "file/bot"
    return "https://api.telegram.org/file/bot"


def _may_pass(exc: TelegramError) -> bool:
    """Whether a failed call may succeed later (network down, 5xx, flood wait): worth a retry."""
    return isinstance(exc, NetworkError | RetryAfter) and not isinstance(exc, BadRequest)


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
        self._bot: Receiver | None = None
        self._me: BotIdentity | None = None
        self._webhook: WebhookServer | None = None
        self._callbacks = CallbackActions()
        self._inline_cache = InlineCache()
        self._handled: HandledUpdates | None = None
        #: The transport is registered (and reminders may be sent through it) while
        #: start() still talks to Telegram; sends wait for ``_started`` meanwhile.
        self._starting = False
        self._started = asyncio.Event()

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook server listens on (after start, in webhook mode)."""
        return self._webhook.port if self._webhook else None

    async def start(self, bot: Receiver) -> None:
        self._starting = True
        self._started.clear()
        try:
            await self._start(bot)
        finally:
            self._starting = False
            self._started.set()

    async def _start(self, bot: Receiver) -> None:
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
            error = PlatformUnreachable if _may_pass(exc) else TransportStartError
            raise error(
                f"Could not reach the Telegram Bot API at {self._safe_api_url()}: "
                f"{self._scrub(reason(exc))}"
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
            detail = reason(exc) if isinstance(exc, TelegramError) else str(exc)
            raise TransportStartError(
                f"Telegram updates could not be started: {self._scrub(detail)}"
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
        if self._bot is not None:  # replies in progress still need the HTTP client
            await self._bot.idle(timeout=30)
        await app.shutdown()

    async def wait_idle(self) -> None:
        """Wait until every update received so far has been answered (tests, shutdown)."""
        if self._bot is not None:
            await self._bot.idle()

    def _build_application(self, *, webhook: bool) -> Application[Any, Any, Any, Any, Any, Any]:
        burst, period = self._limits
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.settings.telegram_api_url)
            .base_file_url(file_url(self.settings.telegram_api_url))
            .rate_limiter(ChatRateLimiter(per_chat_burst=burst, per_chat_period=period))
            .request(QuietRequest(connection_pool_size=256))  # the library's default sizes
            .get_updates_request(QuietRequest(connection_pool_size=1))
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
        """Check, parse and start handling one posted update before the webhook answers.

        Anything seqbot cannot read raises :class:`InvalidUpdate` (a 400) here,
        rather than failing later inside a handler. The work starts directly,
        not through the library's update queue, so it has begun by the time
        Telegram gets its 200.
        """
        assert self._app is not None
        problem = schema.problem(data)
        if problem is not None:
            raise InvalidUpdate(f"not a Telegram update ({problem})")
        try:
            update = Update.de_json(data, self._app.bot)
            self._dispatch(update)
        except Exception as exc:  # the library raises whatever a malformed field trips over
            raise InvalidUpdate(f"not a Telegram update ({type(exc).__name__})") from None

    async def _set_menu(self, bot: Receiver) -> None:
        """Fill Telegram's command menus: English for everyone, then one per menu language.

        A failure only costs that menu (Telegram shows the English one instead),
        so it is logged and the other languages are still set.
        """
        assert self._app is not None
        for language in (None, *MENU_LANGUAGES):
            try:
                await self._app.bot.set_my_commands(
                    menu_commands(bot.plugins, language), language_code=language
                )
            except TelegramError as exc:
                log.warning(
                    "Telegram: could not set the command menu%s: %s",
                    f" for {language}" if language else "",
                    self._scrub(reason(exc)),
                )

    def _polling_error(self, exc: TelegramError) -> None:
        log.warning("Telegram: polling failed, retrying: %s", self._scrub(reason(exc)))

    def _safe_api_url(self) -> str:
        return self._scrub(self.settings.telegram_api_url)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "********") if self._token else text

    # ----- incoming --------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        self._dispatch(update)

    def _dispatch(self, update: Update) -> None:
        """Start the work ``update`` asks for in its own task, once per update across workers."""
        work = self._work_for(update)
        if work is not None:
            self._spawn(self._once(update.update_id, work))

    def _work_for(self, update: Update) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """What to do for ``update``; kinds not in :data:`ALLOWED_UPDATES` are ignored."""
        if self._bot is None or self._me is None:
            return None
        if update.callback_query is not None:
            return partial(self._pressed, update.callback_query)
        if update.my_chat_member is not None:
            return partial(self._membership_changed, update.my_chat_member)
        if update.inline_query is not None:
            return partial(self._inline_query, update.inline_query)
        posted = update.message or update.channel_post
        message = incoming_message(posted, self._me, self._download) if posted is not None else None
        return partial(self._bot.handle, message, self) if message is not None else None

    async def _once(self, update_id: int, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` unless Telegram re-delivered an update already handled (by any worker)."""
        assert self._bot is not None and self._me is not None
        if self._handled is None:
            self._handled = HandledUpdates(self._bot.db, self._me.id)
        if await self._handled.first_delivery(update_id):
            await work()
        else:
            log.info("Telegram: update %d was already handled", update_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        assert self._bot is not None
        self._bot.track(work)

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
                paused = await self._bot.chat_unavailable(address, reason)
            except Exception:  # the next failed send records it instead
                log.exception("Telegram: could not record leaving chat %s", change.chat.id)
                return
            log.info("Telegram: chat %s left; %d reminders paused", change.chat.id, paused)

    async def _inline_query(self, query: InlineQuery) -> None:
        """Answer ``@bot translate …`` / ``@bot summarize …`` typed in any chat.

        The command runs through the core like a message, its replies collected
        (see :mod:`~bot.transports.telegram.inline`); a recent answer to the same
        text in the same language is reused, as Telegram sends a query per pause
        in typing. Anything else gets the help article, so the user sees what works.
        """
        assert self._bot is not None
        command = inline_command(query.query)
        if command is None or len(query.query.split()) < 2:
            note = None
            if command is not None:
                note = f"Type the text after {command!r}."
            elif query.query.strip():
                note = "Inline, I can translate and summarize."
            await self._answer_inline(query, [help_article(note)])
            return
        key = InlineCache.key(query.query, await self._language_of(query.from_user.id))
        results = self._inline_cache.get(key)
        if results is None:
            answer = InlineAnswer()
            await self._bot.handle(inline_message(query, answer), self)
            results = answer_articles(command, answer)
            self._inline_cache.put(key, results)
        await self._answer_inline(query, results)

    async def _language_of(self, user_id: int) -> str:
        """The user's seqbot language (``/settings language``), which translation defaults to."""
        assert self._bot is not None
        async with self._bot.db.session() as session:
            stored = await session.scalar(
                select(User.language).where(
                    User.platform == PLATFORM, User.external_id == str(user_id)
                )
            )
        return stored or self.settings.language

    async def _answer_inline(
        self, query: InlineQuery, results: list[InlineQueryResultArticle]
    ) -> None:
        """Send the results; a query answered too late (the user typed on) is only logged."""
        assert self._app is not None
        try:
            await self._app.bot.answer_inline_query(
                query.id, results, cache_time=CACHE_SECONDS, is_personal=True
            )
        except TelegramError as exc:
            log.info("Telegram: could not answer an inline query: %s", self._scrub(reason(exc)))

    async def _download(self, file_id: str) -> bytes:
        """A document's bytes (``getFile``, then a download), for a task that reads an attachment.

        A failure is the user's to know about ("could not download"), not a crash.
        """
        if self._app is None:
            raise UserError("The file could not be downloaded: the bot is shutting down.")
        try:
            file = await self._app.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.info("Telegram: could not download a file: %s", self._scrub(reason(exc)))
            raise UserError(
                "I could not download that file from Telegram; send it again."
            ) from None

    # ----- outgoing --------------------------------------------------------------------------

    async def reply(self, message: IncomingMessage, reply: Reply) -> str | None:
        """Answer ``message``; an inline query's replies are collected, not posted."""
        if isinstance(message.origin, InlineAnswer):
            message.origin.replies.append(reply)
            return None
        return await super().reply(message, reply)

    async def send(
        self, address: Address, reply: Reply, *, reply_to: str | None = None
    ) -> str | None:
        if self._starting:
            await self._started.wait()
        app = self._app
        if app is None:
            raise DeliveryError("the Telegram transport is not running")
        if is_inline_chat(address.chat_id):
            raise DeliveryError("an inline query has no chat to post into")
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
            sent = await self._send_chunk(
                app,
                address.chat_id,
                chunk,
                message_thread_id=thread,
                reply_parameters=replying if index == 0 else None,
                reply_markup=markup if index == len(chunks) - 1 else None,
            )
            if first_id is None:
                first_id = str(sent.message_id)
        return first_id

    async def _send_chunk(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        chat_id: str,
        chunk: str,
        **options: Any,
    ) -> Message:
        """Post one HTML chunk; if Telegram cannot parse its markup, post it once as plain text.

        A refused chunk was not posted, so the plain resend delivers it exactly once.
        """

        def post(text: str, parse_mode: str | None) -> Coroutine[Any, Any, Message]:
            return deliver(
                lambda: app.bot.send_message(
                    chat_id=chat_id, text=text, parse_mode=parse_mode, **options
                ),
                chat_id=chat_id,
                backoff=self.retry_backoff,
            )

        try:
            return await post(chunk, ParseMode.HTML)
        except MarkupRejected as exc:
            log.warning("%s; sent the message to chat %s as plain text", exc, chat_id)
            return await post(plain_text(chunk), None)

    async def typing(self, address: Address) -> None:
        if self._app is None or is_inline_chat(address.chat_id):
            return
        await self._app.bot.send_chat_action(
            chat_id=address.chat_id,
            action=ChatAction.TYPING,
            message_thread_id=int(address.thread_id) if address.thread_id else None,
        )
