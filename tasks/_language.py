"""What the four language tasks share: reaching the engine, finding the input, fitting prompts.

Each task keeps its own prompt templates in one ``PROMPTS`` dict; an operator
can replace any of them for another model through ``settings.prompts``
(``{"ask.knowledge": "..."}``), so wording lives in one place per task and no
task has to know which model family runs underneath.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sentencex import segment

from bot.errors import ServiceUnavailable, UsageError, UserError
from tasks._numbers import whole_number

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.context import Context

#: Shown when the bot runs without an engine pool (``with_engine=False``).
NO_ENGINE = (
    "The language model is not enabled on this bot; commands that need it are unavailable, "
    "the others keep working."
)


class Engine(Protocol):
    """The part of ``bot.engine`` a task uses; tests pass a scripted engine with this shape."""

    name: str
    max_source_tokens: int
    languages: frozenset[str]  # a multilingual model's codes (eng_Latn), else empty

    def count_tokens(self, text: str) -> int: ...
    async def generate(self, text: str, options: Any = None) -> Any: ...
    async def generate_batch(self, texts: list[str], options: Any = None) -> list[Any]: ...
    async def score(self, source: str, candidates: list[str]) -> list[Any]: ...


async def get_engine(ctx: Context, model: str | None = None) -> Engine:
    """The loaded model (default or ``model``); a one-sentence reply when there is none.

    ``ModelNotAvailable`` and ``EngineBusy`` are user errors already, so they
    reach the user verbatim through the core.
    """
    pool = ctx.engine
    if pool is None:
        raise ServiceUnavailable(NO_ENGINE)
    engine: Engine = await pool.get(model)
    return engine


def prompt(ctx: Context, key: str, defaults: Mapping[str, str], **fields: str) -> str:
    """Fill the template ``key``: from ``settings.prompts`` when set there, else the default."""
    overrides: Mapping[str, str] = ctx.settings.prompts
    template = overrides.get(key) or defaults[key]
    try:
        return template.format(**fields)
    except (KeyError, IndexError) as exc:
        # An operator's template naming a field we do not have; the default always works.
        import logging

        logging.getLogger(__name__).warning("prompt override %s is broken: %s", key, exc)
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


def ensure_fits(engine: Engine, text: str) -> None:
    """Refuse a prompt the model would silently truncate."""
    tokens = engine.count_tokens(text)
    if tokens > engine.max_source_tokens:
        raise too_long(tokens, engine.max_source_tokens)


#: The most requests one command keeps in the engine at once, however large its queue.
MAX_REQUESTS_AT_ONCE = 32


def requests_at_once(ctx: Context, engine: Engine) -> int:
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
    engine: Engine, texts: list[str], options: Any, at_once: int
) -> list[Any]:
    """``generate_batch`` over ``texts`` in waves of ``at_once``; results in input order.

    Each wave is batched together by the engine; the next is submitted only when
    it has come back, so this call never has more than ``at_once`` requests queued.
    """
    results: list[Any] = []
    for start in range(0, len(texts), max(1, at_once)):
        results.extend(await engine.generate_batch(texts[start : start + at_once], options))
    return results


def output_budget(engine: Engine, wanted: int) -> int:
    """``wanted`` new tokens, capped at what the engine accepts for one answer."""
    cap = getattr(engine, "max_target_tokens", None) or engine.max_source_tokens
    return max(1, min(wanted, cap))


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence; together the spans cover ``text`` exactly.

    sentencex (Wikimedia's segmenter: abbreviations such as "Dr.", "p.m." and
    "z.B." per language, decimals, URLs, CJK full stops) only proposes where
    to cut. The pieces are always slices of the original string, and when the
    library's pieces stop matching it, the rest is kept as one piece, so no
    character can be lost, changed or repeated whatever the library returns.
    """
    ends: list[int] = []
    position = 0
    for piece in _segment(language or "en", text):
        if not piece or not text.startswith(piece, position):
            break
        position += len(piece)
        ends.append(position)
    if position < len(text):
        ends.append(len(text))
    return list(zip([0, *ends], ends, strict=False))


#: Where the plain fallback cuts: after sentence-final punctuation and the spaces after it
#: (CJK full stops need no space).
_PLAIN_BOUNDARY = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")


def _segment(language: str, text: str) -> list[str]:
    """sentencex's pieces, or a plain split where the library fails on this text.

    sentencex is Rust; on some character sequences it panics (slicing inside a
    multi-byte character), which reaches Python as ``pyo3_runtime.PanicException``,
    a ``BaseException``. A chat message must never end in a crash, so any failure
    of the library falls back to cutting after sentence-final punctuation.
    """
    try:
        return list(segment(language, text))
    except (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError):
        raise
    except BaseException:  # the Rust panic, see above
        log.warning("sentencex failed on a %d-character text; using the plain split", len(text))
        pieces, start = [], 0
        for match in _PLAIN_BOUNDARY.finditer(text):
            if match.end() > start:
                pieces.append(text[start : match.end()])
                start = match.end()
        return [*pieces, text[start:]] if start < len(text) else pieces


def sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text``, punctuation kept, each trimmed of surrounding whitespace.

    Only whitespace is dropped: between and around the returned pieces lies
    nothing but whitespace, and whitespace-only spans (blank lines) are left out.
    """
    pieces = (text[start:end].strip() for start, end in sentence_spans(text, language))
    return [piece for piece in pieces if piece]


def pack_by_tokens(
    engine: Engine, pieces: Iterable[str], budget: int, *, joiner: str = "\n"
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


def cut_words(engine: Engine, text: str, budget: int) -> list[str]:
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


def _cut_chars(engine: Engine, word: str, budget: int) -> list[str]:
    pieces = []
    while word:
        size = len(word)
        while size > 1 and engine.count_tokens(word[:size]) > budget:
            size = max(1, size * budget // engine.count_tokens(word[:size]) - 1)
        pieces.append(word[:size])
        word = word[size:]
    return pieces


def clip(engine: Engine, text: str, budget: int) -> str:
    """The longest start of ``text`` within ``budget`` tokens, cut between words; "" if none fits."""
    if engine.count_tokens(text) <= budget:
        return text
    start = cut_words(engine, text, budget)[0] if text.strip() else ""
    return start if engine.count_tokens(start) <= budget else ""


def truncate(engine: Engine, text: str, budget: int) -> str:
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


_PERIOD = re.compile(r"^(\d{1,4})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)$", re.I)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_window(word: str, *, max_count: int = 1000) -> Window | None:
    """``"50"`` → last 50 messages, ``"2h"``/``"30m"``/``"1d"`` → a period; else None."""
    word = word.strip()
    count = whole_number(word)  # not isdigit(): "²" is a digit that int() refuses
    if count is not None:
        if not 1 <= count <= max_count:
            raise UserError(f"Give a number of messages between 1 and {max_count}.")
        return Window(count=count)
    match = _PERIOD.match(word)
    if not match:
        return None
    amount = int(match[1])
    if amount < 1:
        raise UserError("Give a period of at least one minute, e.g. 30m or 2h.")
    unit = _UNITS[match[2][0].lower()]
    return Window(period=timedelta(**{unit: amount}))


def _describe_period(period: timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    for size, name in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            n = minutes // size
            return f"{n} {name}{'s' * (n != 1)}" if n != 1 else name
    return f"{minutes} minutes"  # pragma: no cover - every period is whole minutes


def is_command(text: str) -> bool:
    return text.lstrip().startswith("/")
