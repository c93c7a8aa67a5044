"""Reminders: ``/remind`` in natural language, delivered by :mod:`bot.reminders`.

``parsing`` reads times and recurrences, ``formatting`` words the replies,
``commands`` is the task plugin registered as ``remind``.
"""

from tasks.reminders.commands import Reminders

__all__ = ["Reminders"]
