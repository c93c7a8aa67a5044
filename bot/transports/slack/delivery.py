"""Talking to Slack: the Web API client, its errors in the core's terms, and ``response_url``.

Every Web API failure leaves here as one of two exceptions the core knows:
:class:`~bot.transports.base.ChatUnavailable` when Slack will not let the bot
post in that conversation again (the core then pauses its reminders), and
:class:`~bot.transports.base.DeliveryError` for everything worth retrying.
Rate limits (HTTP 429) are retried by slack_sdk's
``AsyncRateLimitErrorRetryHandler`` honouring ``Retry-After`` before they
reach this module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.transports.base import ChatUnavailable, DeliveryError
from bot.transports.slack.rendering import SlackMessage

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Slack errors that mean "this conversation refuses the bot": retrying cannot help.
UNAVAILABLE_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "account_inactive", "is_archived"}
)
#: How often a 429 is retried (each after its ``Retry-After``) before giving up.
RATE_LIMIT_RETRIES = 2
REQUEST_TIMEOUT = 20


def web_client(token: str, base_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """A Web API client on ``base_url`` that waits out rate limits instead of failing."""
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        timeout=REQUEST_TIMEOUT,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


def api_error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "unknown_error")
    except Exception:
        return "unknown_error"


async def call(request: Callable[[], Awaitable[T]]) -> T:
    """Run one Web API call, translating its failure into the core's delivery errors."""
    try:
        return await request()
    except SlackApiError as exc:
        code = api_error_code(exc)
        if code in UNAVAILABLE_ERRORS:
            raise ChatUnavailable(f"Slack refused the message: {code}") from None
        retry_after = None
        if exc.response.status_code == 429:
            header = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            retry_after = _seconds(header)
        raise DeliveryError(f"Slack API error: {code}", retry_after=retry_after) from None
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"Slack is unreachable: {type(exc).__name__}") from None


def _seconds(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


async def post_to_response_url(
    session: aiohttp.ClientSession, url: str, message: SlackMessage, *, ephemeral: bool
) -> bool:
    """Post through a slash command's or button's ``response_url``; False if it did not take.

    Response URLs expire after 30 minutes and 5 uses; the caller then falls back
    to the Web API, so a failure here is expected and only logged.
    """
    client = AsyncWebhookClient(
        url,
        session=session,
        timeout=REQUEST_TIMEOUT,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )
    try:
        response = await client.send(
            text=message.text,
            blocks=message.blocks,
            response_type="ephemeral" if ephemeral else "in_channel",
            replace_original=False,
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.info("Slack: response_url failed (%s); using the Web API", type(exc).__name__)
        return False
    if response.status_code != 200:
        log.info(
            "Slack: response_url answered %s %s; using the Web API",
            response.status_code,
            (response.body or "")[:100],
        )
        return False
    return True
