"""Language names as users type them, and detecting the language of a text offline.

Names come from langcodes (English names, native names and ISO codes:
``de``, ``German``, ``Deutsch``); detection uses py3langid's small bundled
model, loaded once in a worker thread because loading takes most of a second.
"""

from __future__ import annotations

import asyncio
import difflib
import string
from dataclasses import dataclass
from functools import cache

from bot.errors import UserError

#: Below this probability a detected language is treated as unknown.
MIN_CONFIDENCE = 0.5


@cache
def _names() -> dict[str, str]:
    """Lowercased English and native names and codes of every two-letter language → its code."""
    import langcodes

    found: dict[str, str] = {}
    for a in string.ascii_lowercase:
        for b in string.ascii_lowercase:
            lang = langcodes.Language.get(a + b)
            if not lang.has_name_data():
                continue
            code = lang.language or ""
            found.setdefault(code, code)
            for name in (lang.display_name(), lang.autonym()):
                found.setdefault(name.lower(), code)
    return found


def resolve_language(name: str) -> str:
    """The ISO 639 code of a language given by code, English or native name.

    Raises a :class:`UserError` listing close matches when nothing fits.
    """
    import langcodes

    cleaned = name.strip().strip(".,:;")
    if not cleaned:
        raise UserError("Give a language, for example de, German or Deutsch.")
    known = _names()
    if cleaned.lower() in known:
        return known[cleaned.lower()]
    try:
        lang = langcodes.Language.get(langcodes.standardize_tag(cleaned))
        if lang.language and lang.language != "und" and lang.has_name_data():
            return lang.language
    except (ValueError, LookupError):
        pass
    try:
        found = langcodes.find(cleaned)
        if found.language:
            return found.language
    except LookupError:
        pass
    close = difflib.get_close_matches(cleaned.lower(), list(known), n=4, cutoff=0.6)
    suggestions = list(dict.fromkeys(display(known[c]) for c in close))
    hint = (
        " Did you mean " + " or ".join(suggestions) + "?"
        if suggestions
        else " Use a code or a name, for example de, German or Deutsch."
    )
    raise UserError(f"I don't know the language {cleaned!r}.{hint}")


def display(code: str) -> str:
    """The English name of a language code, e.g. ``"German"``."""
    import langcodes

    return str(langcodes.Language.get(code).display_name())


@dataclass(frozen=True)
class Detected:
    code: str
    confidence: float


@cache
def _identifier():  # type: ignore[no-untyped-def]  # py3langid has no type hints
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _detect_sync(text: str) -> Detected:
    code, probability = _identifier().classify(text)
    return Detected(str(code), float(probability))


async def detect(text: str) -> Detected | None:
    """The language of ``text`` if the detector is reasonably sure, else None."""
    found = await asyncio.to_thread(_detect_sync, text)
    return found if found.confidence >= MIN_CONFIDENCE else None
