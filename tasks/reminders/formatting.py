"""The words reminders are shown in: confirmations, lists, deliveries, lateness.

Kept apart from the command plugin and the dispatcher because both speak
them: the confirmation promises a time and the delivery must match it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.messages import Button
from bot.plugins import action_id
from bot.reminders.delivery import REMINDERS_TASK
from storage.models import Reminder
from tasks.reminders.parsing import format_local

_DAY_NAMES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday",
              "FR": "Friday", "SA": "Saturday", "SU": "Sunday"}  # fmt: skip
_UNIT = {"MINUTELY": "minute", "HOURLY": "hour", "DAILY": "day", "WEEKLY": "week",
         "MONTHLY": "month", "YEARLY": "year"}  # fmt: skip
#: Late by less than this is "on time": a sweep interval or a slow send is not news.


def describe_rrule(rrule: str) -> str:
    """``every weekday at 09:00`` for the RRULE our grammar builds."""
    parts = dict(p.split("=", 1) for p in rrule.split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    days = parts.get("BYDAY", "")
    if days == "MO,TU,WE,TH,FR":
        what = "weekday"
    elif days == "SA,SU":
        what = "weekend day"
    elif days and days[0] in "+-123456789":  # "2TU": the second Tuesday of the month
        what = f"month on the {_position(days)} {_DAY_NAMES[days[-2:]]}"
    elif days:
        what = _join([_DAY_NAMES[d] for d in days.split(",")])
    else:
        what = _UNIT.get(freq, freq.lower())
    if interval == 2 and freq not in ("HOURLY", "MINUTELY"):
        text = f"every other {what}"
    elif interval >= 2:
        text = f"every {interval} {what}s"
    else:
        text = f"every {what}"
    if "BYMONTH" in parts:
        month = datetime(2000, int(parts["BYMONTH"]), 1).strftime("%B")
        text += f" on {month} {int(parts.get('BYMONTHDAY', '1'))}"
    elif "BYMONTHDAY" in parts:
        day = int(parts["BYMONTHDAY"])
        text += " on the last day" if day == -1 else f" on the {_ordinal(day)}"
    if "BYHOUR" in parts:
        text += f" at {int(parts['BYHOUR']):02d}:{int(parts.get('BYMINUTE', '0')):02d}"
    return text


def confirmation(
    reminder: Reminder,
    *,
    now: datetime,
    zone_note: str = "",
    assumption: str | None = None,
) -> str:
    """What the bot understood: text, next time in words with zone and distance, what was
    picked when the request could mean two times, recurrence, id."""
    lines = [
        f"OK, reminder #{reminder.id}: **{reminder.text}**",
        f"Next: {format_local(reminder.due_at, reminder.timezone)}, {until(reminder.due_at - now)}",
    ]
    if assumption:
        lines.append(assumption)
    if reminder.rrule:
        lines.append(f"Repeats: {describe_rrule(reminder.rrule)}")
    lines.append(f"Cancel with `/remind cancel {reminder.id}`.")
    if zone_note:
        lines.append(zone_note)
    return "\n".join(lines)


def alternative_button(reminder_id: int, alternative: datetime, zone: str) -> Button:
    """The other reading of the request ("03:00 instead of 15:00") as a button."""
    local = alternative.astimezone(ZoneInfo(zone))
    label = f"{local:%a} {local.day} {local:%b}, {local:%H:%M} instead"
    return Button(
        label, action_id(REMINDERS_TASK, "alt", f"{reminder_id}:{int(alternative.timestamp())}")
    )


def until(span: timedelta) -> str:
    """``in 6 days``, ``in 19 hours``, ``in 2 hours 30 minutes``: how far off a time is."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "in less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 2:
        return f"in {_count(days, 'day')}"
    if days == 1:
        return "in 1 day" + (f" {_count(hours, 'hour')}" if hours else "")
    if hours:
        return f"in {_count(hours, 'hour')}" + (f" {_count(mins, 'minute')}" if mins else "")
    return f"in {_count(mins, 'minute')}"


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'s' * (number != 1)}"


def _position(byday: str) -> str:
    number = int(byday[:-2])
    return "last" if number == -1 else ("first", "second", "third", "fourth", "fifth")[number - 1]


def listing(reminders: list[Reminder]) -> str:
    if not reminders:
        return "You have no reminders here. Create one with /remind me in 10 minutes to stretch."
    lines = ["**Your reminders here**"]
    for r in reminders:
        line = f"- #{r.id} {format_local(r.due_at, r.timezone)}: {r.text}"
        if r.rrule:
            line += f" ({describe_rrule(r.rrule)})"
        if r.status == "paused":
            line += " (paused: I can't post in this chat)"
        lines.append(line)
    return "\n".join(lines)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def strip_markup(text: str) -> str:
    """User text goes into bold markup; keep its own asterisks from breaking it."""
    return re.sub(r"\*\*", "", text)
