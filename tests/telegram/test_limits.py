"""The per-chat message budget, and what each Telegram error means for a reply or reminder."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from bot.transports.base import ChatUnavailable, DeliveryError
from bot.transports.telegram.delivery import ChatRateLimiter, MarkupRejected, deliver


async def test_a_busy_chat_waits_while_other_chats_and_chat_actions_go_through(monkeypatch):
    limiter = ChatRateLimiter(per_chat_burst=2, per_chat_period=60.0)
    done: list[str] = []
    held = asyncio.Event()
    acquire = AsyncLimiter.acquire

    async def watched_acquire(self: AsyncLimiter, amount: float = 1) -> None:
        if not self.has_capacity(amount):
            held.set()  # a request is about to wait for its chat's budget
        await acquire(self, amount)

    monkeypatch.setattr(AsyncLimiter, "acquire", watched_acquire)

    async def request(endpoint: str, chat_id: str) -> None:
        async def call() -> bool:
            done.append(f"{endpoint}:{chat_id}")
            return True

        process = limiter.process_request(call, (), {}, endpoint, {"chat_id": chat_id}, None)
        await asyncio.wait_for(process, 10)

    await request("sendMessage", "1")
    await request("sendMessage", "1")  # the burst is used up
    third = asyncio.create_task(request("sendMessage", "1"))
    await asyncio.wait_for(held.wait(), 10)  # the third now provably waits in the limiter
    await request("sendMessage", "2")  # another chat has its own budget
    await request("sendChatAction", "1")  # "typing…" is not a message
    assert not third.done()
    assert done == ["sendMessage:1", "sendMessage:1", "sendMessage:2", "sendChatAction:1"]
    third.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await third


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        (lambda: Forbidden("Forbidden: bot was kicked from the group chat"), ChatUnavailable, None),
        (lambda: BadRequest("Bad Request: chat not found"), ChatUnavailable, None),
        (lambda: ChatMigrated(-100123), ChatUnavailable, None),
        (lambda: BadRequest("Bad Request: can't parse entities"), MarkupRejected, None),
        (lambda: BadRequest("Bad Request: message is too long"), DeliveryError, None),
        (lambda: RetryAfter(42), DeliveryError, 42.0),  # still limited after the limiter retried
    ],
)
async def test_telegram_errors_map_to_delivery_outcomes(error, expected, retry_after):
    async def call() -> None:
        raise error()

    with pytest.raises(DeliveryError) as caught:
        await deliver(call, chat_id="5", backoff=(0.0,))
    assert type(caught.value) is expected
    assert caught.value.retry_after == retry_after
