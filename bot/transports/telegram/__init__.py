"""Telegram: python-telegram-bot v22 driving the core, by long polling or webhook.

``seqbot run`` starts it when ``SEQBOT_TELEGRAM_TOKEN`` is set; a bad token or
webhook configuration raises :class:`~bot.transports.base.TransportStartError`.
"""

from bot.transports.base import TransportStartError
from bot.transports.telegram.transport import ALLOWED_UPDATES, TelegramTransport

__all__ = ["ALLOWED_UPDATES", "TelegramTransport", "TransportStartError"]
