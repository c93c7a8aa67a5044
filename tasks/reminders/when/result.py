"""What a reminder request means, as the rest of the bot sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ParsedWhen:
    """A reminder request read: its text, first due time (UTC) and recurrence.

    When the phrase could mean two times ("at 3": 03:00 or 15:00; "next friday"),
    ``assumption`` says in a sentence which one was picked and ``alternative`` is the
    other one's first due time (UTC), with ``alternative_rrule`` for a repetition.
    """

    text: str
    due_at: datetime
    rrule: str | None
    #: Whether the meaning depends on the user's zone ("at 9" does, "in 10 minutes" does not).
    uses_zone: bool
    assumption: str | None = None
    alternative: datetime | None = None
    alternative_rrule: str | None = None
