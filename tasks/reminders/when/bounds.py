"""How far ahead a reminder may be, and the sentences that say a time is out of reach."""

from __future__ import annotations

from datetime import datetime, timedelta


def horizon(max_years: int) -> timedelta:
    """At least ``max_years`` calendar years: a bound for checks before the exact one."""
    return timedelta(days=366 * max_years + 1)


def too_far(max_years: int) -> str:
    return f"That is too far ahead; reminders can be at most {max_years} years out."


def format_wall(local: datetime, zone: str) -> str:
    """``Fri 4 Dec 2026, 15:30 (Europe/Berlin)``."""
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone})"


def already_past(local: datetime, zone: str) -> str:
    return f"That time, {format_wall(local, zone)}, is already past; give a future one."
