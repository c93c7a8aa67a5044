"""Rewriting a phrase for the parser while remembering where each piece came from.

People type "tmrw", "10 mins", "ten thirty" or "end of day"; Duckling reads
"tomorrow", "10 minutes", "10:30" and "5pm". The rewritten text is parsed, but the
reminder text must be cut from what the user wrote, with their casing and spelling,
so every rewrite keeps a map from positions in the new text back to the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: A rule: a compiled pattern and its replacement (a template or a function of the match).
Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


@dataclass(frozen=True)
class Rewritten:
    """``text`` and, for each of its characters, the original span it stands for."""

    original: str
    text: str
    #: ``spans[i]`` = (start, end) in ``original`` of the character ``text[i]``.
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str) -> Rewritten:
        return cls(text, text, tuple((i, i + 1) for i in range(len(text))))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The part of the original text that ``text[start:end]`` came from."""
        if start >= end:
            point = self.spans[start][0] if start < len(self.spans) else len(self.original)
            return point, point
        return self.spans[start][0], self.spans[end - 1][1]

    def apply(self, rules: Iterable[Rule]) -> Rewritten:
        """Apply each rule in turn to the whole text."""
        current = self
        for pattern, replacement in rules:
            current = current._substitute(pattern, replacement)
        return current

    def _substitute(
        self, pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str]
    ) -> Rewritten:
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        last = 0
        for match in pattern.finditer(self.text):
            if match.start() == match.end():
                continue
            pieces.append(self.text[last : match.start()])
            spans.extend(self.spans[last : match.start()])
            new = replacement(match) if callable(replacement) else match.expand(replacement)
            source = self.original_span(match.start(), match.end())
            pieces.append(new)
            spans.extend([source] * len(new))
            last = match.end()
        if not pieces:
            return self
        pieces.append(self.text[last:])
        spans.extend(self.spans[last:])
        return Rewritten(self.original, "".join(pieces), tuple(spans))


def rules(
    *pairs: tuple[str, str | Callable[[re.Match[str]], str]], flags: int = re.I
) -> list[Rule]:
    """Compile ``(pattern, replacement)`` pairs, case-insensitive by default."""
    return [(re.compile(pattern, flags), replacement) for pattern, replacement in pairs]
