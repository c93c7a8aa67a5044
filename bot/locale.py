"""Time zone and language names as users type them, checked and normalized.

Both settings are stored per user and used by reminders and translation, so
they are validated once, here, and every error names what would be accepted.
"""

from __future__ import annotations

import difflib
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import UserError


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


def parse_language(name: str) -> str:
    """The ISO 639 code for a language given by code, English name or native name."""
    import langcodes

    cleaned = name.strip()
    if not cleaned:
        raise UserError("Give a language, for example de, German or Deutsch.")
    try:
        tag = langcodes.standardize_tag(cleaned)
        lang = langcodes.Language.get(tag)
        if lang.is_valid() and lang.language and lang.language != "und" and lang.has_name_data():
            return lang.language
    except (ValueError, LookupError):
        pass
    try:
        return langcodes.find(cleaned).language or ""
    except LookupError:
        pass
    raise UserError(
        f"Unknown language {cleaned!r}. Use a code or a name, for example de, German or Deutsch."
    )


def language_name(code: str) -> str:
    import langcodes

    return langcodes.Language.get(code).display_name()
