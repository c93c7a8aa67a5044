"""Delivering reminders: the dispatcher that claims due rows and posts them.

``bot.app`` builds one :class:`ReminderDispatcher` per process; tasks call
``ctx.reminders.wake()`` after they create or snooze a reminder.
"""

from bot.reminders.dispatcher import DispatchPolicy, ReminderDispatcher, system_clock

__all__ = ["DispatchPolicy", "ReminderDispatcher", "system_clock"]
