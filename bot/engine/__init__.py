"""The shared Seq2Seq inference engine: own model code, continuous batching, scoring.

Tasks use only this surface::

    engine = await pool.get()
    result = await engine.generate("summarize: ...", GenerationOptions(num_beams=4))
    scores = await engine.score("review: great film", ["positive", "negative"])
"""

from .engine import Engine
from .errors import EngineBusy, EngineError, EngineTimeout, ModelNotAvailable
from .options import GenerationOptions, GenerationResult, ScoreResult
from .pool import EnginePool

__all__ = [
    "Engine",
    "EngineBusy",
    "EngineError",
    "EnginePool",
    "EngineTimeout",
    "GenerationOptions",
    "GenerationResult",
    "ModelNotAvailable",
    "ScoreResult",
]
