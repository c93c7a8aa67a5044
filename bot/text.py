"""Cleaning incoming text before anything else sees it.

Platforms and terminals can hand us control characters, lone surrogates
(broken UTF-16 from clients) and odd normalization; storing or echoing those
breaks databases (PostgreSQL rejects NUL) and terminals, so they are removed
once, at the edge of the core.
"""

from __future__ import annotations

import unicodedata

_KEEP = {"\n", "\t"}


def clean_text(text: str) -> str:
    """NFC-normalized text without control characters or unpaired surrogates."""
    # Lone surrogates cannot be encoded; replacing them keeps the rest of the message.
    text = text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cs", "Co")
    )
    return unicodedata.normalize("NFC", text).strip()
