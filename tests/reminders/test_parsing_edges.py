"""Causes of the misreads found by the second blind set (issue 11), each as a general rule.

- "N weeks from <weekday>" is that weekday's next occurrence, N weeks on.
- "an hour and a quarter" is 1 h 15 min, as "an hour and a half" is 1 h 30 min.
- In day-first languages a bare "14.03" with no word for "at" before it is a date.
- A misspelt time word or a word of the time left beside it ("mornin", "and a quarter",
  "this") is read or refused, never saved as reminder text.
- A part of the day inside the text stays there when the clock time says its half.
- Words inside the text that Duckling takes for times ("the second dose", "the minutes",
  "winter tyres", a holiday beside a real date) stay text.
"""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from tasks.reminders.when import duckling
from tests.reminders import corpus_score
from tests.reminders.corpus_score import read_at_reference

BER = corpus_score.ZONE
WED = corpus_score.NOW

pytestmark = pytest.mark.skipif(not duckling.available(), reason="Duckling is not installed")


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        # weeks from a weekday
        ("en", "a week from thursday dentist", "2026-12-03T09:00", "dentist"),
        ("en", "three weeks from saturday at 11am brunch", "2026-12-19T11:00", "brunch"),
        ("en", "a week from wednesday call Bob", "2026-12-09T09:00", "call Bob"),
        # fractions of a span
        ("en", "in 2 hours and a quarter stretch", "2026-11-25T16:15", "stretch"),
        ("en", "in an hour and a half check the oven", "2026-11-25T15:30", "check the oven"),
        ("en", "in a quarter of an hour tea", "2026-11-25T14:15", "tea"),
        # day-first dates without "at"
        ("ru", "05.12 оплатить интернет", "2026-12-05T09:00", "оплатить интернет"),
        ("ru", "в 15.45 созвон", "2026-11-25T15:45", "созвон"),
        ("de", "05.12 Miete überweisen", "2026-12-05T09:00", "Miete überweisen"),
        ("es", "05.12 pagar la luz", "2026-12-05T09:00", "pagar la luz"),
        ("de", "mrgn um 7 joggen", "2026-11-26T07:00", "joggen"),
        # words beside the time that belong to it
        ("en", "this coming tuesday water the plants", "2026-12-01T09:00", "water the plants"),
        ("en", "tomorrow evenin call mum", "2026-11-26T19:00", "call mum"),
        ("en", "friday at 6 in the evening dinner", "2026-11-27T18:00", "dinner"),
        # parts of the day and other time-like words that are text
        ("en", "every day at 7:30am take the morning pills", None, "take the morning pills"),
        ("en", "tomorrow at 8pm prepare the evening talk", "2026-11-26T20:00",
         "prepare the evening talk"),
        ("en", "in 8 hours take the second pill", "2026-11-25T22:00", "take the second pill"),
        ("en", "at 6pm read the minutes", "2026-11-25T18:00", "read the minutes"),
        ("en", "march 10 put on the summer tyres", "2027-03-10T09:00", "put on the summer tyres"),
        ("en", "dec 24 at 3pm christmas eve dinner", "2026-12-24T15:00", "christmas eve dinner"),
        ("en", "hourly stretch your legs", "2026-11-25T15:00", "stretch your legs"),
        ("en", "every single week on monday at 9 review", "2026-11-30T09:00", "review"),
    ],
)  # fmt: skip
def test_causes_of_blind_misreads_are_read(
    language: str, spec: str, expected: str | None, text: str
) -> None:
    due, said = read_at_reference(spec, language)
    assert said == text
    if expected is not None:
        assert due == expected


@pytest.mark.parametrize(
    ("spec", "quoted"),
    [
        ("tomorrow afternon at 3 pick up Max", None),  # read: "afternon" is a known typo
        ("tomorrow morming buy bread", None),
        ("saturday mornig walk the dog", "mornig"),
        ("at 5pm tomorrw call Anna", None),
        ("at 5pm tomorrov call Anna", "tomorrov"),
        ("in 3 hours and a quarter leave", None),
    ],
)
def test_a_misspelt_time_word_beside_the_time_is_read_or_refused(
    spec: str, quoted: str | None
) -> None:
    try:
        _, text = read_at_reference(spec)
    except UsageError as exc:
        assert quoted is not None and quoted in str(exc)
        return
    assert quoted is None, text
    assert not any(w in text.lower() for w in ("morn", "afte", "tomor", "quarter")), text


def test_dangling_time_words_are_refused_with_the_word_quoted() -> None:
    with pytest.raises(UsageError, match="this"):
        read_at_reference("call Anna this next friday")


def test_ordinary_words_near_time_words_are_kept() -> None:
    assert read_at_reference("at 9pm light the candles")[1] == "light the candles"
    assert read_at_reference("do this tomorrow")[1] == "do this"
    assert read_at_reference("el 6 de enero: abrir los regalos", "es")[1] == "abrir los regalos"
    assert read_at_reference("в 8 утра завтрак", "ru")[1] == "завтрак"
