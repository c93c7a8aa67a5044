"""What the Slack transport lends its Home tab, reminder modal and message shortcuts.

Those three handlers each need the same few things of the transport: its Web
API client, a way into the core (``run``), the once-only claim of a request
(``claim``), a tracked task for slow work (``spawn``) and the allow-lists
(``allowed``). They used to take these as separate constructor parameters, each
with its own copy of the type aliases; :class:`TransportHooks` bundles them, so
the transport builds the set once and a new hook is added in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import ChatKind, IncomingMessage
from bot.transports.slack.replies import Origin

#: Hand a message to the core, its replies travelling back by ``Origin``.
Run = Callable[[IncomingMessage, Origin], Awaitable[None]]
#: True for the first claim of a key (event id, trigger, view) by any worker.
Claim = Callable[[str], Awaitable[bool]]
#: Run work in a task the core tracks (so shutdown and ``wait_idle`` wait for it).
Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]
#: The allow-lists: may this user use the bot in this chat of this kind?
Allowed = Callable[[str, str, ChatKind], bool]


@dataclass(frozen=True)
class TransportHooks:
    """The transport's client and callbacks, shared by Home, the modal and the shortcuts."""

    client: AsyncWebClient
    run: Run
    claim: Claim
    spawn: Spawn
    allowed: Allowed
