"""Engine errors, phrased for the person chatting where the user can act on them.

``EngineBusy`` and ``ModelNotAvailable`` subclass the core's :class:`~bot.errors.UserError`
family so the router can send their message verbatim; ``EngineError`` is everything a
user cannot fix (bad checkpoint, unsupported architecture) and is logged as a bug.
"""

from __future__ import annotations

from bot.errors import ServiceUnavailable, UserError


class EngineError(Exception):
    """The engine or its checkpoint is broken; the message names the file or field."""


class EngineBusy(ServiceUnavailable):
    """Too many requests are waiting: the caller should retry later."""

    def __init__(
        self, message: str = "The language model is busy right now; please try again in a minute."
    ) -> None:
        super().__init__(message)


class EngineTimeout(EngineBusy):
    """The request waited or ran longer than its time limit; its slot was freed."""

    def __init__(
        self,
        message: str = "The language model took too long to answer; please try again in a minute.",
    ) -> None:
        super().__init__(message)


class EngineClosed(EngineBusy):
    """The engine was unloaded (evicted from the pool or shut down); asking again reloads it."""

    def __init__(
        self,
        message: str = "The language model was just unloaded to make room; please try again.",
    ) -> None:
        super().__init__(message)


class ModelNotAvailable(UserError):
    """The model is neither a local directory nor in the download cache."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"The model {model!r} is not available here; download it with "
            f"`seqbot model pull {model}` or set SEQBOT_MODEL to a local model directory."
        )
