"""What the reminder parser needs to know about each language: one table per module.

Duckling reads dates and clock times in each language by itself. Around it the
parser needs, per language:

- ``normalize``: rewrites applied before Duckling reads the phrase (typos,
  abbreviations, forms Duckling misses such as "ten thirty" or "end of day");
- ``canonical``: rewrites of the normalized phrase into a small set of English
  words (see :data:`CANONICAL_WORDS`) that the language-independent grammars read:
  recurrence ("every monday"), relative spans ("in 2 hours"), parts of the day,
  "next friday", vague words and time words left over in the text;
- ``lead`` / ``trail``: what surrounds the reminder text without being part of it
  ("remind me to", "that", ":"), removed from its start and end.

Adding a language: copy ``en.py``, fill in its tables (the canonical words are the
contract), register it in :data:`_MODULES`, add ``tests/reminders/corpus/<code>.tsv``.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import cache

from tasks.reminders.when.rewrite import Rule

#: The English words the canonical form is written in (for the grammars, not for users).
CANONICAL_WORDS = (
    "every each other daily weekly monthly yearly annually hourly nightly fortnightly "
    "minute(s) hour(s) day(s) week(s) fortnight month(s) year(s) weekday(s) weekend(s) "
    "monday..sunday(s) january..december first..fifth last 1st..31st "
    "of the month on the at in from now later ago next this tomorrow today tonight yesterday "
    "morning afternoon evening night noon midnight few several some sometime soon "
    "namedholiday (a holiday's name: refused as a time, text beside one)"
)

_MODULES = {"en": "en", "de": "de", "fr": "fr", "es": "es", "ru": "ru", "zh": "zh"}


@dataclass(frozen=True)
class Language:
    """The per-language tables of the reminder parser."""

    code: str
    #: Before Duckling: typos, abbreviations, forms Duckling misses (in the language itself).
    normalize: list[Rule] = field(default_factory=list)
    #: After ``normalize``: the language's time words as canonical English words.
    canonical: list[Rule] = field(default_factory=list)
    #: Removed from the start of the reminder text, repeatedly ("remind me to", "that", ":").
    lead: re.Pattern[str] = re.compile(r"^(?:[:,;.!-]|–)\s*")
    #: Removed from the end of the reminder text, repeatedly ("... to", "... on", ":").
    trail: re.Pattern[str] = re.compile(r"\s*(?:[:,;-]|–)$")
    #: Words that glue the time to the text and belong to neither ("at", "on" left alone).
    glue: re.Pattern[str] = re.compile(r"^$")
    #: Shown when a phrase cannot be read: a few forms this language understands.
    examples: str = ""
    #: Duckling's language code when it differs from ``code`` (None: use ``code``).
    duckling: str | None = None
    #: Whether words are separated by spaces (Chinese and Japanese are not).
    spaced: bool = True
    #: Whether "5/12" is day/month (most of the world) rather than month/day (English).
    day_first: bool = True
    #: Time words of the language (lower case): a word of the reminder text right beside the
    #: time that is one letter away from one of these ("mornin") is a misspelt time word.
    time_words: frozenset[str] = frozenset()
    #: Words of a time left dangling beside it ("and a quarter" after "in an hour", "this"
    #: before "coming friday"): matched at the start of the text after the time...
    dangling_after: re.Pattern[str] = re.compile(r"(?!)")
    #: ...and at the end of the text before it.
    dangling_before: re.Pattern[str] = re.compile(r"(?!)")


def words(text: str) -> frozenset[str]:
    """A :attr:`Language.time_words` table from a blank-separated list."""
    return frozenset(text.lower().split())


@cache
def language_for(code: str) -> Language:
    """The table for ISO 639-1 ``code``; languages without one get English rules.

    Duckling still reads the phrase in the user's language when it knows it, so a
    language without its own table is partly understood (dates and clock times).
    """
    code = (code or "en").lower().split("-")[0].split("_")[0]
    module = _MODULES.get(code)
    if module is None:
        english = language_for("en")
        return Language(**{**english.__dict__, "code": code, "duckling": code})
    loaded = importlib.import_module(f"{__name__}.{module}")
    return loaded.LANGUAGE  # type: ignore[no-any-return]


@cache
def foreign_time_words(code: str) -> frozenset[str]:
    """Time words of the other languages' tables, minus this language's own: a French
    "demain" left beside a time read by the English rules means the time was read in part."""
    own = language_for(code).time_words
    others = (language_for(other).time_words for other in _MODULES if other != code)
    return frozenset(word for table in others for word in table if len(word) >= 4) - own
