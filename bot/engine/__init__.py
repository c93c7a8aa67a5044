"""The shared Seq2Seq inference engine: own model code, continuous batching, scoring.

Tasks use only this surface::

    engine = await pool.get()
    result = await engine.generate("summarize: ...", GenerationOptions(num_beams=4))
    scores = await engine.score("review: great film", ["positive", "negative"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EngineConfig
from .errors import EngineBusy, EngineClosed, EngineError, EngineTimeout, ModelNotAvailable

if TYPE_CHECKING:
    from .engine import Engine
    from .options import GenerationOptions, GenerationResult, ScoreResult
    from .pool import EnginePool

# Importing torch takes seconds; commands that never touch a model (``seqbot --help``,
# ``seqbot config``) should not pay for it, so the torch-backed names load on first use.
_LAZY = {
    "Engine": ".engine",
    "EnginePool": ".pool",
    "GenerationOptions": ".options",
    "GenerationResult": ".options",
    "ScoreResult": ".options",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Engine",
    "EngineBusy",
    "EngineClosed",
    "EngineConfig",
    "EngineError",
    "EnginePool",
    "EngineTimeout",
    "GenerationOptions",
    "GenerationResult",
    "ModelNotAvailable",
    "ScoreResult",
]
