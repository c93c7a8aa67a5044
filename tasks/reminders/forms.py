"""A reminder from form fields (Slack's modal) rather than a phrase: date, time, repetition.

A transport that shows a form sends its fields as the payload of the reminders
task's ``form`` action (see :func:`form_action`), so the reminder is stored,
capped and confirmed by the same code as a typed ``/remind``. The transport
checks the fields first to show errors in its form; these checks run again
here, because time passes between the two and the payload could be typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.errors import UserError
from bot.plugins import action_id
from bot.reminders.delivery import REMINDERS_TASK
from bot.reminders.occurrence import localize, next_occurrence

#: The repeat choices a form offers, and the RRULE (without the clock) of each.
REPEATS = {
    "none": "",
    "daily": "FREQ=DAILY",
    "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "weekly": "FREQ=WEEKLY;BYDAY={weekday}",
    "monthly": "FREQ=MONTHLY;BYMONTHDAY={monthday}",
}
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_TEXT = 1000


@dataclass(frozen=True)
class ReminderForm:
    """What a reminder form holds; ``link`` points back at a message (Slack's shortcut)."""

    text: str
    date: str
    time: str
    repeat: str = "none"
    link: str | None = None

    @classmethod
    def from_payload(cls, payload: str) -> ReminderForm:
        try:
            data = json.loads(payload)
            form = cls(
                text=str(data["text"]).strip()[:MAX_TEXT], date=str(data["date"]),
                time=str(data["time"]), repeat=str(data.get("repeat") or "none"),
                link=str(data["link"]) if data.get("link") else None,
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            raise UserError("That form is not one I made; open it again.") from None
        if form.repeat not in REPEATS:
            raise UserError(f"I don't know the repetition {form.repeat!r}.")
        return form

    def payload(self) -> str:
        fields = {"text": self.text, "date": self.date, "time": self.time, "repeat": self.repeat}
        if self.link:
            fields["link"] = self.link
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    @property
    def full_text(self) -> str:
        """The reminder's text, with the link back to the message when there is one."""
        return f"{self.text} ({self.link})" if self.link else self.text


def form_action(form: ReminderForm) -> str:
    """The action id that creates ``form``'s reminder through the reminders task."""
    return action_id(REMINDERS_TASK, "form", form.payload())


def local_moment(day: str, clock: str, zone: str) -> datetime:
    """``YYYY-MM-DD`` and ``HH:MM`` on the wall clock of ``zone``, as aware UTC."""
    try:
        wall = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
    except ValueError:
        raise UserError("Pick a date and a time.") from None
    return localize(wall, zone)


def schedule(
    form: ReminderForm, zone: str, *, now: datetime, max_years: int
) -> tuple[datetime, str | None]:
    """The first due time (UTC) and the RRULE of ``form``; :class:`UserError` if out of reach."""
    if not form.text:
        raise UserError("What should I remind you of? The text is empty.")
    due = local_moment(form.date, form.time, zone)
    if due <= now:
        raise UserError("That time is already past; pick a later one.")
    if due > now + timedelta(days=366 * max_years):
        raise UserError(f"That is more than {max_years} years ahead.")
    base = REPEATS[form.repeat]
    if not base:
        return due, None
    wall = datetime.combine(date.fromisoformat(form.date), time.fromisoformat(form.time))
    rule = base.format(weekday=_DAYS[wall.weekday()], monthday=wall.day)
    rrule = f"{rule};BYHOUR={wall.hour};BYMINUTE={wall.minute};BYSECOND=0"
    # "Weekdays" picked on a Saturday starts on Monday: the rule's first time from the pick.
    first = next_occurrence(rrule, zone, due - timedelta(minutes=1), due - timedelta(minutes=1))
    return (first or due), rrule
