"""seqbot's light markup, and the one place that knows how to render and split it.

Tasks write replies in a tiny Markdown subset (``**bold**``, ```` `code` ````,
fenced code blocks, ``- `` list items, ``[label](url)``). Each transport supplies
a :class:`MarkupStyle` (Telegram HTML, Slack mrkdwn, plain console text) and
calls :func:`render_chunks`, so escaping rules and message-size limits live in
one tested function instead of in every transport.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_INLINE = re.compile(
    r"\*\*(?P<bold>.+?)\*\*"
    r"|`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[a-z][a-z0-9+.-]*://[^)\s]+)\)",
)
_FENCE = "```"
_LIST_ITEM = re.compile(r"^(\s*)[-*] (.*)$")


@dataclass(frozen=True)
class MarkupStyle:
    """How one platform spells each markup element; ``escape`` is applied to all user text."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    code: Callable[[str], str]
    code_block: Callable[[str], str]
    link: Callable[[str, str], str]
    bullet: str = "• "


PLAIN = MarkupStyle(
    escape=lambda s: s,
    bold=lambda s: s,
    code=lambda s: s,
    code_block=lambda s: s,
    link=lambda label, url: f"{label} ({url})",
)


def _render_inline(line: str, style: MarkupStyle) -> str:
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(line):
        out.append(style.escape(line[pos : match.start()]))
        if match["bold"] is not None:
            out.append(style.bold(style.escape(match["bold"])))
        elif match["code"] is not None:
            out.append(style.code(style.escape(match["code"])))
        else:
            out.append(style.link(style.escape(match["label"]), match["url"]))
        pos = match.end()
    out.append(style.escape(line[pos:]))
    return "".join(out)


def render(text: str, style: MarkupStyle) -> str:
    """Render light markup with ``style``; unbalanced markers are left as literal text."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith(_FENCE):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == _FENCE), None)
            if end is not None:
                out.append(style.code_block(style.escape("\n".join(lines[i + 1 : end]))))
                i = end + 1
                continue
        item = _LIST_ITEM.match(line)
        if item:
            out.append(item[1] + style.bullet + _render_inline(item[2], style))
        else:
            out.append(_render_inline(line, style))
        i += 1
    return "\n".join(out)


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _pieces(text: str, separator: str | re.Pattern[str]) -> list[str]:
    """Split keeping the separator attached to the left piece, so joining restores the text."""
    if isinstance(separator, str):
        parts = text.split(separator)
        return [p + separator for p in parts[:-1]] + [parts[-1]]
    pieces: list[str] = []
    pos = 0
    for match in separator.finditer(text):
        pieces.append(text[pos : match.end()])
        pos = match.end()
    pieces.append(text[pos:])
    return pieces


_LEVELS: tuple[str | re.Pattern[str], ...] = ("\n\n", "\n", _SENTENCE_END, " ")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Prefers paragraph breaks, then line breaks, then sentence ends, then word
    boundaries; only a single word longer than ``limit`` is cut mid-word.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    return [chunk.strip() for chunk in _split(text, limit, 0) if chunk.strip()]


def _split(text: str, limit: int, level: int) -> Iterator[str]:
    if len(text) <= limit:
        yield text
        return
    if level == len(_LEVELS):
        for start in range(0, len(text), limit):
            yield text[start : start + limit]
        return
    current = ""
    for piece in _pieces(text, _LEVELS[level]):
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        if current:
            yield current
        if len(piece) <= limit:
            current = piece
        else:
            yield from _split(piece, limit, level + 1)
            current = ""
    if current:
        yield current


def render_chunks(text: str, style: MarkupStyle, limit: int) -> list[str]:
    """Split, then render, so no chunk's rendered form exceeds ``limit`` characters.

    Splitting the source keeps tags balanced; a chunk whose escaping pushed it
    over the limit is split again with a proportionally smaller budget.
    """
    rendered: list[str] = []
    for chunk in split_text(text, limit):
        out = render(chunk, style)
        budget = limit
        while len(out) > limit and budget > 1:
            budget = max(1, budget * limit // len(out) - 1)
            parts = [render(part, style) for part in split_text(chunk, budget)]
            if all(len(part) <= limit for part in parts):
                rendered.extend(parts)
                break
        else:
            rendered.append(out)
    return rendered
