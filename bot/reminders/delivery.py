"""The message a reminder posts when it fires: wording, lateness, Snooze / Done buttons.

The core's dispatcher sends it, so it lives with the dispatcher, not in the reminders
task (the core never imports a plugin); the task's commands answer the buttons.
"""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Button, Reply
from bot.plugins import action_id

#: The task that answers the buttons (``tasks.reminders`` takes its name from here).
REMINDERS_TASK = "remind"
#: Later than this, the message says by how much.
ON_TIME = timedelta(minutes=1)


def delivery(
    reminder_id: int,
    text: str,
    *,
    late_by: timedelta,
    mention: str | None,
    missed: bool = False,
    recurring: bool = False,
) -> Reply:
    """The message posted when a reminder fires, with Snooze / Done buttons."""
    who = f"{mention}, " if mention else ""
    if missed:
        body = f"Missed reminder ({who}due {humanize(late_by)} ago, I was offline): {text}"
        if recurring:
            body += "\nIt repeats; the next one will come on time."
    else:
        body = f"⏰ {who.capitalize() if who else ''}{text}"
        if late_by >= ON_TIME:
            body += f" (late by {humanize(late_by)})"
    buttons = (
        Button("Snooze 10 min", action_id(REMINDERS_TASK, "snooze", f"{reminder_id}:10m")),
        Button("Snooze 1 h", action_id(REMINDERS_TASK, "snooze", f"{reminder_id}:1h")),
        Button("Done", action_id(REMINDERS_TASK, "done", str(reminder_id))),
    )
    return Reply(body, buttons=buttons)


def humanize(span: timedelta) -> str:
    """``2 h``, ``1 h 5 min``, ``3 days``: lateness as a person would say it."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return f"{int(span.total_seconds())} s"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' * (days != 1)}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min"
