"""Replies as Telegram sees them: HTML text in ≤4,096-character chunks and inline keyboards.

Rendering lives apart from the transport so it can be tested without a
network, and so the 64-byte ``callback_data`` limit is handled in one place.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import OrderedDict
from html.parser import HTMLParser

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import BotCommandLimit, InlineKeyboardButtonLimit, MessageLimit

from bot.formatting import MarkupStyle, render_chunks
from bot.messages import Button
from bot.plugins import PluginRegistry
from bot.transports.telegram.menus import translated_summary

#: Telegram's HTML parse mode understands exactly these tags; everything else is escaped.
TELEGRAM_HTML = MarkupStyle(
    escape=lambda s: html.escape(s, quote=False),
    bold=lambda s: f"<b>{s}</b>",
    code=lambda s: f"<code>{s}</code>",
    code_block=lambda s: f"<pre>{s}</pre>",
    link=lambda label, url: f'<a href="{html.escape(url, quote=True)}">{label}</a>',
)

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_CALLBACK_BYTES = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64
_MENU_NAME = re.compile(r"[a-z0-9_]{1,32}")
#: Marks callback data that stands for a longer action kept in :class:`CallbackActions`.
_TOKEN_PREFIX = "~"


def html_chunks(text: str) -> list[str]:
    """``text`` (light markup) as Telegram HTML messages, each within Telegram's length limit.

    Telegram counts UTF-16 code units, so characters outside the Basic Multilingual
    Plane (emoji) count twice; text containing any gets half the budget per chunk.
    """
    wide = any(ord(char) > 0xFFFF for char in text)
    return render_chunks(text, TELEGRAM_HTML, MAX_TEXT // 2 if wide else MAX_TEXT)


def plain_text(chunk: str) -> str:
    """A Telegram HTML chunk as the plain text a reader would see, links as ``label (url)``.

    The fallback when Telegram refuses a chunk's markup: the same words are sent
    once more without ``parse_mode``, so the reply still arrives exactly once.
    """
    parser = _PlainText()
    parser.feed(chunk)
    parser.close()
    return "".join(parser.parts)


class _PlainText(HTMLParser):
    """Collects the text of Telegram HTML; a link's target follows its label."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[tuple[str, int]] = []  # (href, index of the label's first part)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            href, start = self._links.pop()
            if href and "".join(self.parts[start:]) != href:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


class CallbackActions:
    """Fits button actions into Telegram's 64-byte ``callback_data``.

    Short actions travel as they are, so buttons keep working across restarts.
    Longer ones are replaced by a digest token remembered here (bounded, in
    memory); a press of a forgotten token reaches the core unchanged, which
    answers "That button no longer works." instead of failing silently.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._long: OrderedDict[str, str] = OrderedDict()

    def encode(self, action: str) -> str:
        if len(action.encode()) <= MAX_CALLBACK_BYTES and not action.startswith(_TOKEN_PREFIX):
            return action
        token = _TOKEN_PREFIX + hashlib.sha256(action.encode()).hexdigest()[:32]
        self._long[token] = action
        self._long.move_to_end(token)
        while len(self._long) > self.capacity:
            self._long.popitem(last=False)
        return token

    def decode(self, data: str) -> str:
        return self._long.get(data, data)


def keyboard(buttons: tuple[Button, ...], actions: CallbackActions) -> InlineKeyboardMarkup | None:
    """The reply's buttons as one row of an inline keyboard (``None`` without buttons)."""
    if not buttons:
        return None
    row = [InlineKeyboardButton(b.label, callback_data=actions.encode(b.action)) for b in buttons]
    return InlineKeyboardMarkup([row])


def menu_commands(plugins: PluginRegistry, language: str | None = None) -> list[BotCommand]:
    """The commands Telegram shows in its "/" menu: visible ones with names Telegram accepts.

    With ``language``, the built-in tasks' summaries are translated where
    :mod:`~bot.transports.telegram.menus` has them; the rest stay English.
    """
    commands = []
    for spec in plugins.visible_commands():
        if not _MENU_NAME.fullmatch(spec.name):
            continue
        summary = translated_summary(spec.task.name, spec.task.summary or "", language)
        description = (summary or f"/{spec.name}").strip()
        commands.append(BotCommand(spec.name, description[: BotCommandLimit.MAX_DESCRIPTION]))
    return commands[: BotCommandLimit.MAX_COMMAND_NUMBER]
