"""When a repeating reminder comes round next, on the right clock.

Part of the core, not the reminders task: the dispatcher schedules the next occurrence
of a repeating reminder when it fires, and the core does not depend on plugins.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr


def next_occurrence(rrule: str, zone: str, previous: datetime, after: datetime) -> datetime | None:
    """The first occurrence of ``rrule`` after ``after`` (UTC), counting from ``previous``.

    Day-level rules run on the zone's wall clock, so a daily 02:30 stays 02:30
    across DST; hourly and minutely rules run on absolute time, so "every 2
    hours" never fires twice in a fall-back hour.
    """
    start = max(previous, after)
    if _freq(rrule) in ("HOURLY", "MINUTELY"):
        rule = rrulestr(rrule, dtstart=previous.astimezone(UTC).replace(tzinfo=None))
        found = rule.after(start.astimezone(UTC).replace(tzinfo=None), inc=False)
        return None if found is None else found.replace(tzinfo=UTC)
    tz = ZoneInfo(zone)
    rule = rrulestr(rrule, dtstart=previous.astimezone(tz).replace(tzinfo=None))
    found = rule.after(start.astimezone(tz).replace(tzinfo=None), inc=False)
    return None if found is None else localize(found, zone)


def _freq(rrule: str) -> str:
    match = re.search(r"FREQ=(\w+)", rrule)
    return match[1] if match else ""


def localize(wall: datetime, zone: str) -> datetime:
    """A naive wall-clock time in ``zone`` as aware UTC (gaps move forward, folds take the first)."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
