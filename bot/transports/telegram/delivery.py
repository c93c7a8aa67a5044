"""Talking to the Bot API without getting the bot banned or a reply lost.

Three layers, from the outside in: :func:`deliver` retries network failures
with backoff and turns Telegram's errors into the core's ``DeliveryError`` /
``ChatUnavailable``; :class:`ChatRateLimiter` (python-telegram-bot's
``AIORateLimiter`` plus a per-chat bucket) spaces requests and honours
``RetryAfter``; the library does the HTTP, through :class:`QuietRequest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from aiolimiter import AsyncLimiter
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest

from bot.transports.base import ChatUnavailable, DeliveryError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Requests that are not messages: they do not count against a chat's message budget.
UNMETERED = frozenset({"sendChatAction", "answerCallbackQuery", "getUpdates", "getMe"})
#: BadRequest descriptions that mean the chat is gone for good, not that the message was bad.
_GONE = (
    "chat not found",
    "bot was kicked",
    "user is deactivated",
    "have no rights to send",
    "not enough rights to send",
)
#: How python-telegram-bot appends a non-JSON answer (a proxy's HTML page) to its message.
_RAW_ANSWER = ". Parsing the server response"


class MarkupRejected(DeliveryError):
    """Telegram could not parse the message's HTML; nothing was posted, so the text may
    be sent again without markup."""


class QuietRequest(HTTPXRequest):
    """python-telegram-bot's HTTP client, minus its ERROR traceback for non-JSON answers.

    A proxy in front of the Bot API answers 502 with an HTML page while Telegram
    is unreachable. The library logs every such answer at ERROR with a
    ``JSONDecodeError`` traceback before raising ``NetworkError``, which
    :func:`deliver` and the polling loop already retry and report in one line.
    """

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("Invalid server response") from None
        return data


def reason(exc: TelegramError) -> str:
    """``exc``'s message in one short line, without the raw answer the library appends."""
    text = exc.message.split(_RAW_ANSWER, 1)[0]
    return " ".join(text.split())[:200]


class ChatRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` (30 messages/s overall, 20/min per group, RetryAfter retried)
    plus a bucket per chat: Telegram asks bots to stay near one message per
    second in a chat, and allows short bursts (a long reply split in chunks).
    """

    def __init__(
        self, *, per_chat_burst: int = 3, per_chat_period: float = 3.0, max_retries: int = 3
    ) -> None:
        super().__init__(max_retries=max_retries)
        self._per_chat = (per_chat_burst, per_chat_period)
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: str) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None)
        if limiter is None:
            limiter = AsyncLimiter(*self._per_chat)
        self._chats[chat_id] = limiter  # most recently used last
        while len(self._chats) > 1024:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint in UNMETERED:
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        limiter = self._chat_limiter(str(chat_id)) if chat_id is not None else None
        async with limiter or contextlib.nullcontext():
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )


def retry_after_seconds(exc: RetryAfter) -> float:
    """``exc.retry_after`` in seconds, whichever type this library version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def deliver(call: Callable[[], Awaitable[T]], *, chat_id: str, backoff: Sequence[float]) -> T:
    """Run one Bot API call, retrying network failures after each delay in ``backoff``.

    Raises :class:`ChatUnavailable` when Telegram refuses the chat for good
    (blocked, kicked, deleted, migrated), :class:`MarkupRejected` when it cannot
    parse the message's HTML, and :class:`DeliveryError` otherwise.
    """
    for attempt in range(len(backoff) + 1):
        try:
            return await call()
        except Forbidden as exc:
            raise ChatUnavailable(f"Telegram refuses chat {chat_id}: {reason(exc)}") from None
        except ChatMigrated as exc:
            raise ChatUnavailable(
                f"Telegram chat {chat_id} became supergroup {exc.new_chat_id}"
            ) from None
        except BadRequest as exc:
            _raise_bad_request(exc, chat_id)
        except RetryAfter as exc:  # still limited after the rate limiter's own retries
            seconds = retry_after_seconds(exc)
            raise DeliveryError(
                f"Telegram asks to wait {seconds:g} s before posting again", retry_after=seconds
            ) from None
        except InvalidToken:
            raise DeliveryError("Telegram no longer accepts the bot token") from None
        except NetworkError as exc:  # includes TimedOut; BadRequest was handled above
            if attempt == len(backoff):
                raise DeliveryError(f"Telegram could not be reached: {reason(exc)}") from None
            log.warning(
                "Telegram request failed (%s); retrying in %g s", reason(exc), backoff[attempt]
            )
            await asyncio.sleep(backoff[attempt])
        except TelegramError as exc:
            raise DeliveryError(f"Telegram error: {reason(exc)}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _raise_bad_request(exc: BadRequest, chat_id: str) -> NoReturn:
    """Sort Telegram's 400s: a chat gone for good, markup it cannot parse, or a bad message."""
    message = exc.message.lower()
    if any(gone in message for gone in _GONE):
        raise ChatUnavailable(f"Telegram refuses chat {chat_id}: {reason(exc)}") from None
    if "can't parse entities" in message:
        raise MarkupRejected(f"Telegram could not parse the markup: {reason(exc)}") from None
    raise DeliveryError(f"Telegram rejected the message: {reason(exc)}") from None
