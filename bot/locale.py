"""Time zone and language names as users type them, checked and normalized.

Both settings are stored per user and used by reminders and translation, so
they are read once, here, and every error names what would be accepted. This
is the one home of language *names* (``de``, ``German``, ``Deutsch`` → ``de``;
langcodes supplies English and native names and ISO codes); detecting the
language of a text and the codes of translation models belong to
:mod:`tasks._translation_languages`, the only place that needs them.
"""

from __future__ import annotations

import difflib
import string
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import UserError

if TYPE_CHECKING:
    from langcodes import Language


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(name: str) -> str:
    """The canonical IANA name for ``name`` (case-insensitive), or a :class:`UserError`."""
    cleaned = name.strip().replace(" ", "_")
    canonical = _zones().get(cleaned.lower())
    if canonical is None and cleaned.upper() in ("UTC", "GMT", "Z"):
        canonical = "UTC"
    if canonical is None:
        close = difflib.get_close_matches(cleaned.lower(), list(_zones()), n=3, cutoff=0.6)
        hint = (
            " Did you mean " + ", ".join(_zones()[c] for c in close) + "?"
            if close
            else " Use an IANA name such as Europe/Berlin or America/New_York."
        )
        raise UserError(f"Unknown time zone {name.strip()!r}.{hint}")
    try:
        ZoneInfo(canonical)
    except ZoneInfoNotFoundError:  # pragma: no cover - listed zones always load
        raise UserError(f"Time zone {canonical} is not installed on this server.") from None
    return canonical


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


def resolve_language(name: str, *, unknown: str = "I don't know the language {name!r}.") -> str:
    """The tag of a language given by code, English or native name: ``de``, ``zh-Hant``.

    The ISO 639 code, plus the script when it is not the language's usual one
    (translation models tell those apart). When nothing fits, raises a
    :class:`UserError` that starts with ``unknown`` (``{name}`` is what was typed)
    and lists close matches, so each command keeps its own wording.
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
            return _tag(lang)
    except (ValueError, LookupError):
        pass
    try:
        found = langcodes.find(cleaned)
        if found.language:
            return _tag(found)
    except LookupError:
        pass
    close = difflib.get_close_matches(cleaned.lower(), list(known), n=4, cutoff=0.6)
    suggestions = list(dict.fromkeys(language_name(known[c]) for c in close))
    hint = (
        " Did you mean " + " or ".join(suggestions) + "?"
        if suggestions
        else " Use a code or a name, for example de, German or Deutsch."
    )
    raise UserError(unknown.format(name=cleaned) + hint)


def parse_language(name: str) -> str:
    """The ISO 639 code of a user's language setting: :func:`resolve_language` without the
    script (``zh-TW`` → ``zh``), since reminders and replies go by language alone."""
    tag = resolve_language(name, unknown="Unknown language {name!r}.")
    return tag.partition("-")[0]


def _tag(lang: Language) -> str:
    """The language, plus its script when that is not the usual one: ``zh-TW`` → ``zh-Hant``.

    Regions are dropped (``de-DE`` → ``de``): nothing here translates by region.
    """
    import langcodes

    script = lang.maximize().script
    if script and script != langcodes.Language.get(lang.language).maximize().script:
        return f"{lang.language}-{script}"
    return str(lang.language)


def language_name(code: str) -> str:
    """The English name of a language code or tag, e.g. ``"German"``."""
    import langcodes

    return str(langcodes.Language.get(code).display_name())
