"""How an engine runs, in one value: :class:`EngineConfig`.

Every engine a pool loads runs with the same config; the model to load is a separate
argument (``Engine.load(path, config)``, ``EnginePool(config, default_model)``). The bot
and ``seqbot model generate`` build it from the settings with :meth:`from_settings`, so
an ``SEQBOT_ENGINE_*`` variable means the same to both. Free of torch, so building a
pool at start (even for ``seqbot chat -c /help``) imports no model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

DEFAULT_MAX_TARGET_TOKENS = 512


@dataclass(frozen=True)
class EngineConfig:
    """Precision, threads and limits of one engine; the defaults are the settings' defaults."""

    #: int8 weights for linear layers and embeddings (float32 if this torch has no fbgemm).
    int8: bool = True
    #: How int8 layers quantize activations: ``auto``, ``vnni`` or ``avx2``; None:
    #: ``SEQBOT_ENGINE_INT8_PATH``, else chosen from the CPU (see :mod:`.cpu`).
    int8_path: str | None = None
    threads: int = 0  # torch threads; 0: all cores
    max_batch: int = 32  # batch slots: decoder rows (a beam each) plus score requests
    max_queue: int = 256  # requests that may wait for a slot before EngineBusy
    timeout: float | None = None  # seconds per request unless the call gives its own
    #: Longest output; Marian/BART/M2M100 position tables may lower it per model.
    max_target_tokens: int = DEFAULT_MAX_TARGET_TOKENS
    cache_dir: str | None = None  # where hub ids resolve (SEQBOT_MODEL_DIR)

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """The config the bot runs with: ``SEQBOT_ENGINE_*`` and ``SEQBOT_MODEL_DIR``."""
        return cls(
            int8=settings.engine_int8,
            int8_path=settings.engine_int8_path,
            threads=settings.engine_threads,
            max_batch=settings.engine_max_batch,
            max_queue=settings.engine_max_queue,
            timeout=settings.engine_timeout_seconds,
            cache_dir=settings.model_dir,
        )
