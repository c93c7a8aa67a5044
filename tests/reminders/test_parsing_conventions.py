"""Conventions settled across languages (docs/reminders.md, "Conventions").

- With an explicit "today", an hour without am/pm is the first of its two readings
  that is still ahead ("today at 6" said at 14:00 is 18:00), as on any named day
  ("tomorrow at 5" is 05:00); when both are past the phrase is refused.
- Holidays are refused in every language with a reply that asks for the date: which
  days they fall on depends on the country. A holiday word beside a real time is text.
"""

from __future__ import annotations

import re

import pytest

from bot.errors import UsageError
from tasks.reminders.parsing import parse_reminder
from tasks.reminders.when import duckling
from tests.reminders import corpus_score
from tests.reminders.corpus_score import read_at_reference

BER = corpus_score.ZONE
WED = corpus_score.NOW

pytestmark = pytest.mark.skipif(not duckling.available(), reason="Duckling is not installed")


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        ("en", "today at 9 to call Anna", "2026-11-25T21:00", "call Anna"),
        ("en", "call Anna today at 6", "2026-11-25T18:00", "call Anna"),
        ("de", "heute um 8: Joggen", "2026-11-25T20:00", "Joggen"),
        ("fr", "aujourd'hui à 9h : appeler la poste", "2026-11-25T21:00", "appeler la poste"),
        ("es", "hoy a las 8 llamar a Raúl", "2026-11-25T20:00", "llamar a Raúl"),
        ("ru", "сегодня в 10 позвонить Вадиму", "2026-11-25T22:00", "позвонить Вадиму"),
        ("zh", "今天6点提醒我做饭", "2026-11-25T18:00", "做饭"),
        # a named day other than today keeps the first reading of that day
        ("en", "tomorrow at 5 to run", "2026-11-26T05:00", "run"),
    ],
)
def test_today_with_a_bare_hour_is_its_next_future_reading(
    language: str, spec: str, expected: str, text: str
) -> None:
    assert read_at_reference(spec, language) == (expected, text)


def test_today_at_a_bare_hour_has_no_past_alternative() -> None:
    parsed = parse_reminder("today at 9 to call Anna", now=WED, zone=BER)
    assert parsed.alternative is None or parsed.alternative > WED


@pytest.mark.parametrize(
    ("language", "spec"),
    [
        ("en", "today at 1 to call Anna"),  # 01:00 and 13:00 are both past
        ("en", "today at 9am to call Anna"),
        ("de", "heute um 8 Uhr morgens Sport"),
        ("zh", "今天上午9点提醒我开会"),
    ],
)
def test_today_at_an_hour_already_past_is_refused(language: str, spec: str) -> None:
    with pytest.raises(UsageError, match="already past"):
        parse_reminder(spec, now=WED, zone=BER, language=language)


@pytest.mark.parametrize(
    ("language", "spec"),
    [
        ("en", "christmas: call mom"),
        ("en", "on christmas eve at 8pm to call mom"),
        ("en", "new year's eve at 23:30 fireworks"),
        ("en", "thanksgiving to buy a turkey"),
        ("en", "on valentine's day buy flowers"),
        ("de", "an Weihnachten Oma anrufen"),
        ("de", "an Silvester um 23:30: Raketen rausholen"),
        ("fr", "à Noël : appeler la famille"),
        ("fr", "le jour de l'an : appeler Paul"),
        ("es", "en Nochevieja comprar uvas"),
        ("ru", "на Новый год позвонить маме"),
        ("zh", "元旦提醒我给朋友发祝福"),
        ("zh", "圣诞节提醒我给孩子拆礼物"),
        ("zh", "平安夜晚上8点提醒我吃苹果"),
    ],
)
def test_holidays_are_refused_in_every_language_with_a_way_forward(
    language: str, spec: str
) -> None:
    with pytest.raises(UsageError, match=re.escape("give the date")):
        parse_reminder(spec, now=WED, zone=BER, language=language)


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        ("en", "buy christmas presents tomorrow", "2026-11-26T09:00", "buy christmas presents"),
        (
            "de",
            "morgen Weihnachtsgeschenke kaufen",
            "2026-11-26T09:00",
            "Weihnachtsgeschenke kaufen",
        ),
        ("de", "morgen um 9: Weihnachten planen", "2026-11-26T09:00", "Weihnachten planen"),
        ("fr", "le 5 décembre à 15h : marché de Noël", "2026-12-05T15:00", "marché de Noël"),
        ("zh", "12月24日晚上7点提醒我平安夜聚餐", "2026-12-24T19:00", "平安夜聚餐"),
    ],
)
def test_a_holiday_word_beside_a_time_is_reminder_text(
    language: str, spec: str, expected: str, text: str
) -> None:
    assert read_at_reference(spec, language) == (expected, text)


@pytest.mark.parametrize(
    ("language", "spec", "expected", "text"),
    [
        # weekday abbreviations and misspellings are weekdays: the next one after today
        ("en", "wed at 7pm: choir", "2026-12-02T19:00", "choir"),
        ("en", "wensday to water the plants", "2026-12-02T09:00", "water the plants"),
        ("en", "thrusday at 10am dentist", "2026-11-26T10:00", "dentist"),
        ("en", "on sat: brunch", "2026-11-28T09:00", "brunch"),
        ("en", "next wk: review", "2026-11-30T09:00", "review"),
        ("en", "in a half hour: tea", "2026-11-25T14:30", "tea"),
        ("de", "nächster Werktag: Akten", "2026-11-26T09:00", "Akten"),
        ("de", "letzter Freitag im Januar: Party", "2027-01-29T09:00", "Party"),
        ("es", "dentro d 20 minutos: horno", "2026-11-25T14:20", "horno"),
        ("ru", "+20 мин проверить духовку", "2026-11-25T14:20", "проверить духовку"),
        ("ru", "чрез 2 часа позвонить", "2026-11-25T16:00", "позвонить"),
        ("ru", "зафтра в 10 утра врач", "2026-11-26T10:00", "врач"),
        ("zh", "兩小時後提醒我吃藥", "2026-11-25T16:00", "吃藥"),
        ("zh", "明天下午3點提醒我開會", "2026-11-26T15:00", "開會"),
        ("zh", "20分后提醒我关火", "2026-11-25T14:20", "关火"),
        ("zh", "2个钟头后提醒我挪车", "2026-11-25T16:00", "挪车"),
        ("zh", "一刻钟后提醒我喝水", "2026-11-25T14:15", "喝水"),
    ],
)
def test_general_forms_found_by_the_holdout(
    language: str, spec: str, expected: str, text: str
) -> None:
    assert read_at_reference(spec, language) == (expected, text)
