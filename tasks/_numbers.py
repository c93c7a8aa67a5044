"""Numbers typed into commands, checked before a query or date arithmetic sees them.

Ids and amounts come from chat text, so anything can arrive. ``str.isdigit()`` accepts
"²", which ``int()`` refuses; ``int()`` refuses more than 4,300 digits; PostgreSQL's
INTEGER holds at most 2**31 - 1 (asyncpg raises beyond it) and SQLite's 2**63 - 1
(``OverflowError``); ``datetime`` and ``timedelta`` overflow past the year 9999. Each of
these once reached users as the generic apology, so every task reads numbers here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import timedelta

from bot.errors import UsageError, UserError

#: The largest id an INTEGER primary key holds on PostgreSQL (the smaller of the backends).
MAX_ID = 2**31 - 1
#: Numbers with more digits are read as :data:`HUGE`: past every bound, never converted.
MAX_DIGITS = 18
HUGE = 10**MAX_DIGITS
#: The shortest each unit can be on a wall clock (a day across a spring-forward change is
#: 23 hours, a month at least 28 days), so a bound checked with them never refuses a span
#: that the exact calendar arithmetic afterwards would accept.
_SHORTEST_SECONDS = {
    "minutes": 60,
    "hours": 3600,
    "days": 23 * 3600,
    "weeks": 7 * 86400 - 3600,
    "months": 28 * 86400,
    "years": 365 * 86400,
}


def digits_of(text: str) -> str | None:
    """``text`` as ASCII digits without leading zeros, or None when it is not a whole number.

    Decimal digits of every script count ("١٢" and the full-width "１２" are 12), as
    they do for ``int()``; superscripts, fractions, signs and other bases do not.
    """
    text = text.strip()
    if not text or not text.isdecimal():
        return None
    ascii_digits = "".join(str(unicodedata.decimal(char)) for char in text)
    return ascii_digits.lstrip("0") or "0"


def whole_number(text: str) -> int | None:
    """The whole number ``text`` spells (see :func:`digits_of`), or None.

    More than :data:`MAX_DIGITS` digits give :data:`HUGE`, which every bound refuses.
    """
    digits = digits_of(text)
    if digits is None:
        return None
    return HUGE if len(digits) > MAX_DIGITS else int(digits)


def parse_id(raw: str, *, usage: str, missing: str) -> int:
    """The row id in ``raw`` ("12", "#12"), within what the database can hold.

    Raises :class:`UsageError` with ``usage`` when ``raw`` is not a whole number, and
    :class:`UserError` with ``missing`` (``{id}`` replaced by the number, shortened) when
    no row can have it: the database would fail on such an id rather than find nothing.
    """
    digits = digits_of(raw.strip().removeprefix("#"))
    if digits is None:
        raise UsageError(usage)
    number = HUGE if len(digits) > MAX_DIGITS else int(digits)
    if not 1 <= number <= MAX_ID:
        shown = digits if len(digits) <= 20 else digits[:20] + "…"
        raise UserError(missing.format(id=shown))
    return number


def check_span(pieces: Iterable[tuple[float, str]], limit: timedelta, refusal: str) -> None:
    """Raise :class:`UsageError` with ``refusal`` if ``pieces`` are surely longer than ``limit``.

    ``pieces`` are (amount, unit) pairs with units from minutes to years. Decided on the
    numbers alone (Python integers do not overflow), so callers check before building a
    ``timedelta``, ``relativedelta`` or date from them, and do their exact check after.
    """
    seconds = sum(amount * _SHORTEST_SECONDS[unit] for amount, unit in pieces)
    if seconds > limit.total_seconds():
        raise UsageError(refusal)
