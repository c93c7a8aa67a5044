"""Helpers for the tasks that run on the engine: reaching it, reading the input, fitting prompts.

``/ask``, ``/summarize``, ``/translate`` and ``/sentiment`` (the tasks with
``needs_model``) reach the engine through :func:`get_engine` and see it as a
:class:`TaskEngine`, the slice of :class:`bot.engine.Engine` they use. Their
input is cut to the model's token limits here, and the window of chat history
they read (``50``, ``2h``) is parsed here. Not to be confused with
:mod:`bot.locale` (time zone and language names), :mod:`tasks._translation_languages`
(what ``/translate`` knows about languages) or :mod:`tasks._sentences` (sentence
splitting, which needs no engine).

Each task keeps its own prompt templates in one ``PROMPTS`` dict; an operator
can replace any of them for another model through ``settings.prompts``
(``{"ask.knowledge": "..."}``), so wording lives in one place per task and no
task has to know which model family runs underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import ServiceUnavailable, UsageError, UserError
from tasks._durations import parse_duration
from tasks._numbers import whole_number

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.context import Context

#: Shown when the bot runs without an engine pool (``with_engine=False``).
NO_ENGINE = (
    "The language model is not enabled on this bot; commands that need it are unavailable, "
    "the others keep working."
)


class TaskEngine(Protocol):
    """The part of :class:`bot.engine.Engine` a task uses; tests pass a scripted engine
    with this shape, so tasks never depend on the engine's internals."""

    name: str
    max_source_tokens: int
    languages: frozenset[str]  # a multilingual model's codes (eng_Latn), else empty

    def count_tokens(self, text: str) -> int: ...
    async def generate(self, text: str, options: Any = None) -> Any: ...
    async def generate_batch(self, texts: list[str], options: Any = None) -> list[Any]: ...
    async def score(self, source: str, candidates: list[str]) -> list[Any]: ...


async def get_engine(ctx: Context, model: str | None = None) -> TaskEngine:
    """The loaded model (default or ``model``); a one-sentence reply when there is none.

    ``ModelNotAvailable`` and ``EngineBusy`` are user errors already, so they
    reach the user verbatim through the core.
    """
    pool = ctx.engine
    if pool is None:
        raise ServiceUnavailable(NO_ENGINE)
    engine: TaskEngine = await pool.get(model)
    return engine


def prompt(ctx: Context, key: str, defaults: Mapping[str, str], **fields: str) -> str:
    """Fill the template ``key``: from ``settings.prompts`` when set there, else the default."""
    overrides: Mapping[str, str] = ctx.settings.prompts
    template = overrides.get(key) or defaults[key]
    try:
        return template.format(**fields)
    except (KeyError, IndexError) as exc:
        # An operator's template naming a field we do not have; the default always works.
        log.warning("prompt override %s is broken: %s", key, exc)
        return defaults[key].format(**fields)


def input_text(ctx: Context, args: str, *, what: str) -> str:
    """The text to work on: the command's arguments, else the message replied to.

    ``what`` completes "Send me … " in the usage error, e.g. "the text to translate".
    """
    text = args.strip()
    if text:
        return text
    quoted = ctx.message.reply_to
    if quoted is not None:
        if not (quoted.text or "").strip():
            raise UserError(
                f"The message you replied to has no text I can read; send {what} instead."
            )
        return (quoted.text or "").strip()
    raise UsageError(f"Send me {what}, or reply to a message with the command.")


def too_long(tokens: int, limit: int) -> UserError:
    return UserError(
        f"That text is too long for the language model ({tokens:,} tokens; the limit is "
        f"{limit:,}). Please send a shorter text."
    )


def ensure_fits(engine: TaskEngine, text: str) -> None:
    """Refuse a prompt the model would silently truncate."""
    tokens = engine.count_tokens(text)
    if tokens > engine.max_source_tokens:
        raise too_long(tokens, engine.max_source_tokens)


#: The most requests one command keeps in the engine at once, however large its queue.
MAX_REQUESTS_AT_ONCE = 32


def requests_at_once(ctx: Context, engine: TaskEngine) -> int:
    """How many requests one command may submit together without being refused as "busy".

    The engine refuses requests past its queue limit, so a command with more
    parts than that submits them in waves of at most ``min(max_batch,
    max_queue)``: read from the engine's public ``stats()`` where it reports
    them, and from the settings the engine pool is built from.
    """
    stats_of = getattr(engine, "stats", None)
    stats: Mapping[str, Any] = stats_of() if callable(stats_of) else {}
    limits = [
        MAX_REQUESTS_AT_ONCE,
        ctx.settings.engine_max_batch,
        ctx.settings.engine_max_queue,
        *(stats.get(key) for key in ("max_batch", "max_queue")),
    ]
    return max(1, min(n for n in limits if isinstance(n, int) and n > 0))


async def generate_in_waves(
    engine: TaskEngine, texts: list[str], options: Any, at_once: int
) -> list[Any]:
    """``generate_batch`` over ``texts`` in waves of ``at_once``; results in input order.

    Each wave is batched together by the engine; the next is submitted only when
    it has come back, so this call never has more than ``at_once`` requests queued.
    """
    results: list[Any] = []
    for start in range(0, len(texts), max(1, at_once)):
        results.extend(await engine.generate_batch(texts[start : start + at_once], options))
    return results


def output_budget(engine: TaskEngine, wanted: int) -> int:
    """``wanted`` new tokens, capped at what the engine accepts for one answer."""
    cap = getattr(engine, "max_target_tokens", None) or engine.max_source_tokens
    return max(1, min(wanted, cap))


def pack_by_tokens(
    engine: TaskEngine, pieces: Iterable[str], budget: int, *, joiner: str = "\n"
) -> list[str]:
    """Group ``pieces`` in order into chunks of at most ``budget`` tokens each.

    A piece longer than the budget on its own is cut at word boundaries, so
    every chunk fits; counting uses the engine's own tokenizer.
    """
    chunks: list[str] = []
    current: list[str] = []
    current_tokens = 0
    for piece in pieces:
        tokens = engine.count_tokens(piece)
        if tokens > budget:
            if current:
                chunks.append(joiner.join(current))
                current, current_tokens = [], 0
            chunks.extend(cut_words(engine, piece, budget))
            continue
        if current and current_tokens + tokens > budget:
            chunks.append(joiner.join(current))
            current, current_tokens = [], 0
        current.append(piece)
        current_tokens += tokens
    if current:
        chunks.append(joiner.join(current))
    return chunks


def cut_words(engine: TaskEngine, text: str, budget: int) -> list[str]:
    """``text`` cut at word boundaries into pieces of at most ``budget`` tokens each."""
    out: list[str] = []
    current: list[str] = []
    for word in text.split():
        if engine.count_tokens(word) > budget:  # one "word" too long: cut it by characters
            if current:
                out.append(" ".join(current))
                current = []
            out.extend(_cut_chars(engine, word, budget))
            continue
        trial = " ".join([*current, word])
        if current and engine.count_tokens(trial) > budget:
            out.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        out.append(" ".join(current))
    return out


def _cut_chars(engine: TaskEngine, word: str, budget: int) -> list[str]:
    pieces = []
    while word:
        size = len(word)
        while size > 1 and engine.count_tokens(word[:size]) > budget:
            size = max(1, size * budget // engine.count_tokens(word[:size]) - 1)
        pieces.append(word[:size])
        word = word[size:]
    return pieces


def clip(engine: TaskEngine, text: str, budget: int) -> str:
    """The longest start of ``text`` within ``budget`` tokens, cut between words; "" if none fits."""
    if engine.count_tokens(text) <= budget:
        return text
    start = cut_words(engine, text, budget)[0] if text.strip() else ""
    return start if engine.count_tokens(start) <= budget else ""


def truncate(engine: TaskEngine, text: str, budget: int) -> str:
    """The start of ``text`` within ``budget`` tokens (all of it when it fits)."""
    if engine.count_tokens(text) <= budget:
        return text
    return cut_words(engine, text, budget)[0] + " …"


@dataclass(frozen=True)
class Window:
    """Which part of the chat history to read: the last ``count`` messages or ``period``."""

    count: int | None = None
    period: timedelta | None = None

    def describe(self) -> str:
        if self.period is not None:
            return "the last " + _describe_period(self.period)
        return f"the last {self.count} messages"


#: The longest window read, the old four-digit limit in days: the history is shorter anyway.
MAX_PERIOD = timedelta(days=9999)
_PERIOD_RANGE = "Give a period in minutes, hours, days or weeks, up to 9999 days, e.g. 30m or 2h."


def parse_window(word: str, *, max_count: int = 1000) -> Window | None:
    """``"50"`` → last 50 messages, ``"2h"``/``"30m"``/``"1d"`` → a period; else None.

    Periods are read by :func:`tasks._durations.parse_duration` (the grammar of snooze
    lengths) and kept in whole minutes, which is how :meth:`Window.describe` says them.
    """
    word = word.strip()
    count = whole_number(word)  # not isdigit(): "²" is a digit that int() refuses
    if count is not None:
        if not 1 <= count <= max_count:
            raise UserError(f"Give a number of messages between 1 and {max_count}.")
        return Window(count=count)
    period = parse_duration(word, longest=MAX_PERIOD, refusal=_PERIOD_RANGE)
    if period is None:
        return None
    minutes = period // timedelta(minutes=1)
    if minutes < 1:
        raise UserError("Give a period of at least one minute, e.g. 30m or 2h.")
    return Window(period=timedelta(minutes=minutes))


def _describe_period(period: timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    for size, name in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            n = minutes // size
            return f"{n} {name}{'s' * (n != 1)}" if n != 1 else name
    return f"{minutes} minutes"  # pragma: no cover - every period is whole minutes


def is_command(text: str) -> bool:
    return text.lstrip().startswith("/")
