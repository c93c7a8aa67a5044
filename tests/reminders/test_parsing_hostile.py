"""Whatever a chat sends, the reminder parser answers with a time or a UsageError, nothing else.

The parser hands text to a native library (Duckling, through a Rust binding), which
panics on a NUL byte and cannot encode a lone surrogate; a chat can send both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import UsageError
from tasks.reminders.parsing import parse_reminder

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ["UTC", "Europe/Berlin", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns"]
LANGUAGES = ["en", "de", "fr", "es", "ru", "zh", "pt", "xx", ""]
TIME_WORDS = [
    "in", "at", "every", "tomorrow", "9", "10:30", "3pm", "0", "99999999999", "1/2", "½",
    "²", "٣", "１", "friday", "feb 30", "2026-12-24T10:00+05:00", "PST", "UTC+14", "明天",
    "下午3点", "завтра в 9", "demain à 9h", "mañana a las 9", "morgen um 9", "\0", "\ud800",
]  # fmt: skip


def _check(spec: str, zone: str, language: str) -> None:
    try:
        parsed = parse_reminder(spec, now=NOW, zone=zone, language=language)
    except UsageError as exc:
        assert str(exc).strip()
        return
    assert NOW < parsed.due_at <= NOW + timedelta(days=366 * 5 + 1)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(TIME_WORDS) | st.text(max_size=12), max_size=8),
    zone=st.sampled_from(ZONES),
    language=st.sampled_from(LANGUAGES),
)
def test_any_text_gets_a_time_or_a_usage_error(words: list[str], zone: str, language: str):
    _check(" ".join(words) + " water the plants", zone, language)


def test_nul_and_lone_surrogates_do_not_reach_the_native_parser():
    parsed = parse_reminder(
        "tomorrow at 9 call \ud800 Anna\0", now=NOW, zone="Europe/Berlin", language="en"
    )
    assert parsed.due_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert parsed.text == "call \ud800 Anna\0"  # kept as sent; the core cleans text


@pytest.mark.parametrize(
    ("spec", "language", "local", "text"),
    [
        ("tomorrow at 6pm eat dinner", "en", "18:00", "eat dinner"),
        ("tomorrow at 5pm cat food", "en", "17:00", "cat food"),
        ("tomorrow at 9am art class", "en", "09:00", "art class"),
        ("tomorrow at 7pm pet the dog", "en", "19:00", "pet the dog"),
        ("tomorrow at 10am vet appointment", "en", "10:00", "vet appointment"),
        ("tomorrow at 5pm get milk", "en", "17:00", "get milk"),
        ("tomorrow at 9am west wing tour", "en", "09:00", "west wing tour"),
        ("morgen um 9 Uhr ist Meeting", "de", "09:00", "ist Meeting"),
        ("demain à 9h est la réunion", "fr", "09:00", "est la réunion"),
    ],
)
def test_words_that_spell_zone_abbreviations_stay_text(spec, language, local, text):
    """Duckling reads EAT, CAT, VET, IST... in any case; a word must never shift the time."""
    parsed = parse_reminder(spec, now=NOW, zone="Europe/Berlin", language=language)
    assert f"{parsed.due_at.astimezone(BERLIN):%H:%M}" == local
    assert parsed.text == text


def test_a_zone_abbreviation_in_capitals_is_still_a_zone():
    parsed = parse_reminder("tomorrow 5pm EAT: feed", now=NOW, zone="Europe/Berlin")
    assert f"{parsed.due_at.astimezone(BERLIN):%H:%M}" == "15:00"  # 17:00 UTC+3
    assert parsed.text == "feed"


@pytest.mark.parametrize("repeated", ["tomorrow at 9 ", "monday ", "in 2 hours "])
def test_a_phrase_duckling_would_take_minutes_on_is_refused_and_the_parser_recovers(repeated):
    """Duckling is exponential in runs of adjacent time words; the worker is replaced."""
    with pytest.raises(UsageError, match="too many times in a row"):
        parse_reminder(repeated * 20 + "x", now=NOW, zone="Europe/Berlin")
    parsed = parse_reminder("tomorrow at 9am call Anna", now=NOW, zone="Europe/Berlin")
    assert parsed.due_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "word"),
    [("demain à 9h : appeler Paul", "demain"), ("call Paul 9h demain", "demain")],
)
def test_a_time_word_of_another_language_beside_the_time_is_not_saved_as_text(spec, word):
    """With English rules only "9h" reads; "demain" (tomorrow) must not become text."""
    with pytest.raises(UsageError, match=f"“{word}” looks like a time word of another language"):
        parse_reminder(spec, now=NOW, zone="Europe/Berlin", language="en")
    in_french = parse_reminder(spec, now=NOW, zone="Europe/Berlin", language="fr")
    assert in_french.due_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert "demain" not in in_french.text
