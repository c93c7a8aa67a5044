"""What a caller asks of the engine and what it gets back.

Kept free of torch so tasks can import them cheaply; validation happens here, in the
caller's coroutine, so a bad request fails alone instead of inside the shared batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FinishReason = Literal["eos", "length"]


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings; defaults give greedy decoding of up to 64 tokens."""

    max_new_tokens: int = 64
    min_new_tokens: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool = True
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    #: Multilingual models (NLLB, M2M100) only: language codes as the model's tokenizer
    #: spells them (``eng_Latn``, ``__en__`` or ``en``; see ``Engine.languages``). The
    #: source code starts the encoded text; the target code is forced as the first token.
    source_language: str | None = None
    target_language: str | None = None

    def validate(self, max_target_tokens: int, max_batch: int) -> None:
        """Raise ValueError naming the first bad field."""
        if not 1 <= self.max_new_tokens <= max_target_tokens:
            raise ValueError(f"max_new_tokens must be in 1..{max_target_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("min_new_tokens must be in 0..max_new_tokens")
        if not 1 <= self.num_beams <= max_batch:
            raise ValueError(f"num_beams must be in 1..{max_batch}")
        if self.num_beams > 1 and self.do_sample:
            raise ValueError("beam search with sampling is not supported")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be positive")
        if self.no_repeat_ngram_size < 0:
            raise ValueError("no_repeat_ngram_size must be >= 0")
        for name in ("source_language", "target_language"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a language code such as 'deu_Latn'")

    @property
    def plain_greedy(self) -> bool:
        """True when the next token is a bare argmax, so rows can be batched."""
        return (
            self.num_beams == 1
            and not self.do_sample
            and self.repetition_penalty == 1.0
            and self.no_repeat_ngram_size == 0
        )


@dataclass
class GenerationResult:
    """One generated sequence; ``token_ids`` exclude the decoder start and the final EOS."""

    text: str
    token_ids: list[int]
    truncated: bool
    finish_reason: FinishReason


@dataclass
class ScoreResult:
    """Log-probability of one candidate given the source (natural log, EOS included)."""

    total: float
    token_logprobs: list[float] = field(default_factory=list)
