"""Helpers for reminder tests: a clock tests move by hand, and a transport that records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.messages import Address, Reply
from bot.plugins import PluginRegistry
from bot.transports.base import Transport
from tasks.core import CoreCommands
from tasks.reminders import Reminders


class FakeClock:
    """The dispatcher's and the commands' "now", moved only by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> datetime:
        self.now += timedelta(**span)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class RecordingTransport(Transport):
    """A platform that accepts everything (or fails as scripted) and remembers what it got."""

    platform: str = "fake"
    sent: list[tuple[Address, Reply]] = field(default_factory=list)
    #: Called before accepting a message; raise from it to simulate platform errors.
    before_send: Callable[[Address, Reply], None] | None = None

    async def start(self, bot) -> None:  # type: ignore[no-untyped-def]
        return None

    async def stop(self) -> None:
        return None

    async def send(self, address: Address, reply: Reply, *, reply_to: str | None = None) -> str:
        if self.before_send is not None:
            self.before_send(address, reply)
        self.sent.append((address, reply))
        return f"m{len(self.sent)}"

    @property
    def texts(self) -> list[str]:
        return [reply.text for _, reply in self.sent]


@pytest.fixture
def registry_with_core_and_reminders() -> Callable[[], PluginRegistry]:
    def build() -> PluginRegistry:
        registry = PluginRegistry()
        registry.add(CoreCommands())
        registry.add(Reminders())
        return registry

    return build


@pytest.fixture
def clock() -> FakeClock:
    # A Saturday morning; Europe/Berlin is on CET (UTC+1).
    return FakeClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
