"""Transports connect seqbot to a chat platform (console, Telegram, Slack)."""

from bot.transports.base import ChatUnavailable, DeliveryError, Transport, TransportRegistry

__all__ = ["ChatUnavailable", "DeliveryError", "Transport", "TransportRegistry"]
