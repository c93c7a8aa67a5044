"""Slack: slash commands, mentions, DMs and buttons through slack-bolt (HTTP or Socket Mode)."""

from bot.transports.base import TransportStartError
from bot.transports.slack.transport import SlackTransport

__all__ = ["SlackTransport", "TransportStartError"]
