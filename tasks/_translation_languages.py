"""What /translate knows about languages beyond their names: which language a text
is in, and how a multilingual translation model spells each language.

Language *names* as users type them live in :mod:`bot.locale` (one home, shared
with ``/settings``). Detection uses py3langid's small bundled model, loaded once in
a worker thread because loading takes most of a second. :func:`model_language`
maps a tag from :func:`bot.locale.resolve_language` (``de``, ``zh-Hant``) to an NLLB
code (``deu_Latn``) or an M2M100 token (``__de__``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langcodes import Language

#: Below this probability a detected language is treated as unknown.
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Detected:
    code: str
    confidence: float


@cache
def _identifier():  # type: ignore[no-untyped-def]  # py3langid has no type hints
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _detect_sync(text: str) -> Detected:
    code, probability = _identifier().classify(text)
    return Detected(str(code), float(probability))


async def detect(text: str) -> Detected | None:
    """The language of ``text`` if the detector is reasonably sure, else None."""
    found = await asyncio.to_thread(_detect_sync, text)
    return found if found.confidence >= MIN_CONFIDENCE else None


# -- language codes of multilingual translation models ----------------------------------

#: NLLB codes langcodes cannot reach from the ISO 639-1 code, through ISO 639-3 or the
#: macrolanguage table: Norwegian is written Bokmål, Fula, Quechua and Pashto are the
#: varieties NLLB was trained on.
_NLLB_LANGUAGE = {"no": "nob", "ff": "fuv", "qu": "quy", "ps": "pbt"}
#: M2M100 tokens for codes langcodes standardizes differently (``tl`` → ``fil``).
_M2M100_LANGUAGE = {"nb": "no", "fil": "tl", "nso": "ns"}
#: Korean is maximized to Kore (Hangul + Hanja); FLORES-200 writes it Hang.
_SCRIPT_ALIASES = {"Kore": ("Kore", "Hang")}


@dataclass(frozen=True)
class _Code:
    code: str
    script: str
    territory: str | None


def model_language(tag: str, codes: Collection[str]) -> str | None:
    """The code a multilingual model uses for the language ``tag``; None if it has none.

    ``codes`` are the model's (``Engine.languages``): NLLB-200's FLORES-200 codes
    (``deu_Latn``: ISO 639-3 and script) or M2M100's tokens (``__de__``).
    """
    import langcodes

    try:
        lang = langcodes.Language.get(tag)
        std = langcodes.Language.get(langcodes.standardize_tag(tag, macro=True))
    except (ValueError, LookupError):
        return None
    if not std.language or std.language == "und":
        return None
    if any(c.startswith("__") for c in codes):
        for code in (_M2M100_LANGUAGE.get(std.language), lang.language, std.language):
            if code and f"__{code}__" in codes:
                return f"__{code}__"
        return None
    return _nllb_code(lang, std, frozenset(codes))


def _nllb_code(lang: Language, std: Language, codes: frozenset[str]) -> str | None:
    """ISO 639-3 + likely script when the model has it; else the language's individual
    variety through the macrolanguage table (``ar`` → ``arb_Arab``, ``lv`` → ``lvs_Latn``).
    """
    script = std.script or std.maximize().script or ""
    scripts = _SCRIPT_ALIASES.get(script, (script,))
    for alpha3 in dict.fromkeys((_NLLB_LANGUAGE.get(std.language or ""), *_alpha3s(lang, std))):
        for name in scripts:
            if alpha3 and f"{alpha3}_{name}" in codes:
                return f"{alpha3}_{name}"
    candidates = _nllb_index(codes).get(std.language or "", [])
    fitting = [c for c in candidates if c.script in scripts]
    if fitting:
        # Persian: pes_Arab for "fa", prs_Arab (Dari) for "fa-AF".
        same_region = [c for c in fitting if c.territory == std.territory]
        no_region = [c for c in fitting if c.territory is None]
        return (same_region or no_region or fitting)[0].code
    if not std.script and len(candidates) == 1:
        # langcodes guesses no or another script for some (pbt, sat, crh, tzm): the
        # model writes the language one way only, so that is the one.
        return candidates[0].code
    return None


def _alpha3s(*langs: Language) -> list[str]:
    out = []
    for lang in langs:
        try:
            out.append(lang.to_alpha3())
        except (LookupError, ValueError):
            continue
    return out


@lru_cache(maxsize=8)
def _nllb_index(codes: frozenset[str]) -> dict[str, list[_Code]]:
    """The model's codes by the language langcodes files them under (``arb`` → ``ar``)."""
    import langcodes

    index: dict[str, list[_Code]] = {}
    for code in sorted(codes):
        alpha3, _, script = code.partition("_")
        try:
            std = langcodes.Language.get(langcodes.standardize_tag(alpha3, macro=True))
        except (ValueError, LookupError):
            continue
        if std.language:
            index.setdefault(std.language, []).append(_Code(code, script, std.territory))
    return index
