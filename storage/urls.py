"""Database URLs: the async driver seqbot connects with, and a form safe to print.

Storage's own concern, so that ``storage`` takes a URL and needs nothing of the bot;
``bot.settings`` validates ``SEQBOT_DATABASE_URL`` with the same functions.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

#: The async driver seqbot uses for each database it supports.
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
#: Other spellings of those databases' names in URLs.
_BACKEND_ALIASES = {"postgres": "postgresql"}
_SUPPORTED_URLS = "sqlite+aiosqlite:///seqbot.db or postgresql+asyncpg://user@host/db"


def async_url(url: str) -> str:
    """``url`` with the async driver seqbot uses for its database; ValueError if unsupported.

    ``sqlite:///x.db`` and ``postgresql://…`` (also ``postgres://``, ``+psycopg2``) are what
    most tools write; SQLAlchemy's async engine needs ``+aiosqlite`` and ``+asyncpg``.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise ValueError(f"not a database URL; use {_SUPPORTED_URLS}") from None
    backend = parsed.get_backend_name()
    backend = _BACKEND_ALIASES.get(backend, backend)
    driver = ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise ValueError(
            f"seqbot cannot use {parsed.drivername!r} databases; use {_SUPPORTED_URLS}"
        )
    if parsed.drivername == driver:
        return url
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """The URL with its password replaced, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
