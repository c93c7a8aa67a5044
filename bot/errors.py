"""Errors whose message is meant for the person chatting with the bot.

Anything else a task raises is a bug: the user gets an apology with an error
id and the log gets the traceback (see :mod:`bot.core`).
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message is sent as the reply, verbatim."""


class UsageError(UserError):
    """The command was called wrongly; the reply adds the task's usage text."""


class ServiceUnavailable(UserError):
    """A dependency (model, engine queue, platform) cannot serve now; try again later."""
