"""The platform transports ``seqbot run`` can start, each enabled by its own settings.

Each factory returns ``None`` when its settings are absent; ``HINTS`` tells a
user with none configured which settings would enable which platform.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from bot.transports.base import Transport


def _telegram(settings: Settings) -> Transport | None:
    if settings.telegram_token is None:
        return None
    from bot.transports.telegram import TelegramTransport

    return TelegramTransport(settings)


def _slack(settings: Settings) -> Transport | None:
    if settings.slack_bot_token is None:
        return None
    from bot.transports.slack import SlackTransport

    return SlackTransport(settings)


FACTORIES: list[Callable[[Settings], Transport | None]] = [_telegram, _slack]

HINTS = (
    "No chat platform is configured: set SEQBOT_TELEGRAM_TOKEN (from @BotFather), or "
    "SEQBOT_SLACK_BOT_TOKEN with SEQBOT_SLACK_SIGNING_SECRET (HTTP mode) or "
    "SEQBOT_SLACK_APP_TOKEN (Socket Mode); to try seqbot in this terminal, run: seqbot chat"
)
