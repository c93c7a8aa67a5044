"""Inline mode: ``@bot translate to de good morning`` in any chat, answered by ``answerInlineQuery``.

An inline query has no chat to post into, so it reaches the core as an
:class:`~bot.messages.IncomingMessage` in a per-user pseudo chat
(``inline:<user id>``) whose ``origin`` is an :class:`InlineAnswer`: the
transport's ``reply`` collects what the task says there instead of sending it,
and the collected text becomes one :class:`~telegram.InlineQueryResultArticle`.
Errors are replies too (the core turns a task's refusal into one), so a problem
is shown as a single article explaining it.

Only commands that work on the text given and change nothing are offered
inline (translate, summarize): ``/remind`` or ``/kb add`` would act on a chat
the user is not looking at. Telegram sends a query as the user types, so
answers are cached briefly per query text and user language (:class:`InlineCache`).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram import InlineQuery, InlineQueryResultArticle, InputTextMessageContent
from telegram.constants import ParseMode

from bot.messages import ChatKind, IncomingMessage, Reply
from bot.transports.telegram.rendering import html_chunks, plain_text
from bot.transports.telegram.updates import PLATFORM

#: Chat ids of inline pseudo chats start with this; nothing is ever posted to them.
INLINE_CHAT_PREFIX = "inline:"
#: The commands offered inline (alias → the title of its answer).
INLINE_COMMANDS: dict[str, str] = {
    "translate": "Translation",
    "tr": "Translation",
    "summarize": "Summary",
    "summary": "Summary",
    "tldr": "Summary",
}
#: How long an answer is reused, by seqbot and (``cache_time``) by Telegram's servers.
CACHE_SECONDS = 60
_DESCRIPTION_CHARS = 120
HELP_TEXT = (
    "Use me in any chat: type my @username, then\n"
    "translate to de good morning\n"
    "summarize <a long text>"
)


@dataclass
class InlineAnswer:
    """The ``origin`` of an inline query's message: where the transport collects replies."""

    replies: list[Reply] = field(default_factory=list)


def is_inline_chat(chat_id: str) -> bool:
    return chat_id.startswith(INLINE_CHAT_PREFIX)


def inline_command(query: str) -> str | None:
    """The command word of ``query`` when it is one offered inline (``/tr`` works too)."""
    word = query.strip().split(maxsplit=1)[0].lstrip("/").lower() if query.strip() else ""
    return word if word in INLINE_COMMANDS else None


def inline_message(query: InlineQuery, answer: InlineAnswer) -> IncomingMessage:
    """The query as a command in the user's inline pseudo chat, replies collected in ``answer``."""
    sender = query.from_user
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=f"{INLINE_CHAT_PREFIX}{sender.id}",
        chat_kind=ChatKind.PRIVATE,
        user_id=str(sender.id),
        user_name=sender.full_name or str(sender.id),
        text="/" + query.query.strip().lstrip("/"),
        addressed=True,
        origin=answer,
        stored=False,  # the query and its answer stay out of any history
    )


def article(title: str, text: str) -> InlineQueryResultArticle:
    """One result: ``text`` (light markup) as the message sent when the user picks it."""
    chunks = html_chunks(text) or ["…"]
    body = chunks[0]
    description = " ".join(plain_text(body).split())[:_DESCRIPTION_CHARS]
    result_id = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]
    return InlineQueryResultArticle(
        id=result_id,
        title=title,
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
        description=description,
    )


def help_article(note: str | None = None) -> InlineQueryResultArticle:
    """What inline mode offers: the answer to an empty or unknown query."""
    text = f"{note}\n{HELP_TEXT}" if note else HELP_TEXT
    return article("Translate or summarize", text)


def answer_articles(command: str, answer: InlineAnswer) -> list[InlineQueryResultArticle]:
    """The task's replies as one article; no reply at all is explained, never left empty."""
    text = "\n\n".join(reply.text for reply in answer.replies if reply.text.strip())
    if not text:
        return [article("Sorry", "I could not answer that; try again in a moment.")]
    return [article(INLINE_COMMANDS[command], text)]


class InlineCache:
    """Recent answers by (query text, user language), each kept ``ttl`` seconds, ``capacity`` in all.

    Keyed by language because ``translate good morning`` translates into the
    asker's language; the user id is not part of the key, so two people asking
    the same thing in the same language share one model run.
    """

    def __init__(self, ttl: float = CACHE_SECONDS, capacity: int = 1000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[float, list[InlineQueryResultArticle]]]
        self._entries = OrderedDict()

    @staticmethod
    def key(query: str, language: str) -> tuple[str, str]:
        return (" ".join(query.split()).lstrip("/"), language)

    def get(self, key: tuple[str, str]) -> list[InlineQueryResultArticle] | None:
        found = self._entries.get(key)
        if found is None:
            return None
        stored_at, results = found
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[key]
            return None
        return results

    def put(self, key: tuple[str, str], results: list[InlineQueryResultArticle]) -> None:
        self._entries[key] = (time.monotonic(), results)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
