"""Cutting text into sentences, by the rules of its language, without losing a character.

Shared by the tasks that feed text to the model a sentence at a time (``/translate``)
or pack sentences into prompts (``/summarize``). Nothing here needs the engine.
"""

from __future__ import annotations

import asyncio
import logging
import re

from sentencex import segment

log = logging.getLogger(__name__)


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
