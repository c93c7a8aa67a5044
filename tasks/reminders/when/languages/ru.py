"""Russian: "завтра в 9 позвонить Анне", "каждый понедельник в 9 планёрка".

Russian inflects its time words ("в пятницу", "по пятницам", "через 2 дня", "в 3 часа
дня"), so the canonical rewrites match word stems with their endings.
"""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language, words
from tasks.reminders.when.rewrite import rules

#: Weekday stems and the endings their cases take.
_WEEKDAYS = [
    (r"понедельник(?:а|у|е|ом)?", r"понедельник(?:ам|ами)", "monday"),
    (r"вторник(?:а|у|е|ом)?", r"вторник(?:ам|ами)", "tuesday"),
    (r"сред(?:а|у|е|ы|ой)", r"сред(?:ам|ами)", "wednesday"),
    (r"четверг(?:а|у|е|ом)?", r"четверг(?:ам|ами)", "thursday"),
    (r"пятниц(?:а|у|е|ы|ей)", r"пятниц(?:ам|ами)", "friday"),
    (r"суббот(?:а|у|е|ы|ой)", r"суббот(?:ам|ами)", "saturday"),
    (r"воскресень(?:е|я|ю|ем)", r"воскресень(?:ям|ями)", "sunday"),
]
_MONTHS = [("январ", "january"), ("феврал", "february"), ("март", "march"), ("апрел", "april"),
           ("ма[яйею]", "may"), ("июн", "june"), ("июл", "july"), ("август", "august"),
           ("сентябр", "september"), ("октябр", "october"), ("ноябр", "november"),
           ("декабр", "december")]  # fmt: skip
_NUMBERS = {"один": 1, "одну": 1, "одна": 1, "одного": 1, "два": 2, "две": 2, "двух": 2,
            "три": 3, "трёх": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8,
            "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12,
            "пятнадцать": 15, "двадцать": 20, "тридцать": 30, "сорок": 40,
            "пятьдесят": 50}  # fmt: skip
_HOURS = {"час": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7,
          "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12}  # fmt: skip
#: Hours as the genitive ordinal of "в половине третьего", "без четверти восемь".
_HOUR_ORDINALS = {"первого": 1, "второго": 2, "третьего": 3, "четвёртого": 4, "четвертого": 4,
                  "пятого": 5, "шестого": 6, "седьмого": 7, "восьмого": 8, "девятого": 9,
                  "десятого": 10, "одиннадцатого": 11, "двенадцатого": 12}  # fmt: skip
_MINUTE_WORDS = {"пяти": 5, "десяти": 10, "четверти": 15, "пятнадцати": 15, "двадцати": 20,
                 "пять": 5,
                 "десять": 10, "двадцать": 20}  # fmt: skip
_ORDINALS = [(r"перв(?:ый|ое|ую|ого|ая)", "first"), (r"втор(?:ой|ое|ую|ого|ая)", "second"),
             (r"треть(?:ий|е|ю|его|я)", "third"), (r"четв[её]рт(?:ый|ое|ую|ого|ая)", "fourth"),
             (r"последн(?:ий|ее|юю|его|яя)", "last")]  # fmt: skip


def _words(table: dict[str, int]) -> str:
    return "|".join(sorted(table, key=len, reverse=True))


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _HOURS.get(word, 0) or _HOUR_ORDINALS.get(word, 0)


def _half_past(match: re.Match[str]) -> str:
    """``в половине третьего`` / ``в полдевятого`` → ``в 2:30`` / ``в 8:30``."""
    return f"в {_HOUR_ORDINALS[match['h'].lower()] - 1}:30"


def _to_hour(match: re.Match[str]) -> str:
    """``без четверти восемь`` → ``в 7:45``."""
    hour = _number(match["h"].lower())
    minutes = 60 - _MINUTE_WORDS[match["m"].lower()]
    return f"в {hour - 1}:{minutes:02d}"


def _past_hour(match: re.Match[str]) -> str:
    """``в четверть четвёртого`` → ``в 3:15``; ``в пять минут восьмого`` → ``в 7:05``."""
    minutes = 15 if match["m"].lower() == "четверть" else _number_word(match["m"])
    return f"в {_HOUR_ORDINALS[match['h'].lower()] - 1}:{minutes:02d}"


def _clock_part(match: re.Match[str]) -> str:
    """``в 5 вечера`` → ``в 17:00``, ``в 2 ночи`` → ``в 02:00``, ``в 12 дня`` → ``в полдень``:
    Duckling leaves "вечера" out of the time and reads "в 5" alone."""
    hour = 1 if match["h"].lower() == "час" else int(match["h"])
    minute = match["m"] or "00"
    part = match["part"].lower()
    if hour > 12:
        return match[0]  # "в 13 утра" does not exist; the check for it refuses it
    if part == "утра":
        hour %= 12
    elif part == "дня":
        hour = hour if hour == 12 else hour + 12 if hour <= 6 else hour
    elif part == "вечера":
        hour = hour + 12 if hour < 12 else hour
    elif part == "ночи":
        hour = 0 if hour == 12 else hour + 12 if hour >= 9 else hour
    if hour == 12 and minute == "00":
        return "в полдень"
    if hour == 0 and minute == "00":
        return "в полночь"
    return f"в {hour:02d}:{minute}"


def _number_word(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


_HOUR_ORDINAL = _words({**_HOUR_ORDINALS})

NORMALIZE = rules(
    (r"\bчз\b|\bч/з\b|\bчрез\b|\bчерес\b|\bчерезь\b", "через"),
    (r"(?<![\w+])\+\s*(?=\d)", "через "),  # "+30 мин"
    (r"\bзавтро\b|\bзавра\b|\bзафтра\b|\bзафтро\b", "завтра"),
    (r"\b(?P<y>\d{4})\s+год(?:а|у)?\b", r"\g<y>"),
    (r"\bпол\s+часа\b", "полчаса"),
    (r"\bчасик\b", "час"),
    (r"\bполчасика\b", "полчаса"),
    (rf"\bв\s+(?:половине\s+|пол\s*)(?P<h>{_HOUR_ORDINAL})\b", _half_past),
    (rf"\bбез\s+(?P<m>пяти|десяти|четверти|пятнадцати|двадцати)\s+(?P<h>\d{{1,2}}|{_words(_HOURS)})\b",
     _to_hour),
    (rf"\bв\s+(?P<m>четверть|\d{{1,2}}|пять|десять|двадцать)(?:\s+минут\w*)?\s+"
     rf"(?P<h>{_HOUR_ORDINAL})\b", _past_hour),
    (r"(?<=\d)\s*ч\.?(?=\s|$)(?!\s*\d)", " часов"),
    (r"\bв\s+(?P<h>\d{1,2})\.(?P<m>[0-5]\d)\b", r"в \g<h>:\g<m>"),
    (r"\bв\s+(?P<h>\d{1,2}|час)(?::(?P<m>[0-5]\d))?(?:\s+час(?:а|ов)?)?\s+"
     r"(?P<part>дня|вечера|ночи)\b", _clock_part),
    (r"\b(?P<d>\d{1,2})-?(?:го|е|ое)?\s+числа\b", r"\g<d>-го"),
    (r"\bзватра\b|\bзаврта\b|\bзавтар\b", "завтра"),
    (r"\bближайш(?:ую|ая)\b", "эту"),
    (r"\bближайш(?:ий|его)\b(?!\s+(?:рабоч|будн))", "этот"),
    (r"\bближайш(?:ее)\b", "это"),
    # Duckling reads meals as times of day and would take them out of the reminder text.
    (r"\b(?:обед|ужин|завтрак)\w*", "трапеза"),
    (r"\bв\s+конце\s+дня\b", "в 17:00"),
    (r"\bс\s+утра\b", "утром"),
)  # fmt: skip

CANONICAL = rules(
    # "8 марта" is a date, read as one; named holidays depend on the country: refused
    (r"\b(?:нов(?:ый|ого|ом)\s+год[ау]?|новогодн\w*\s+ноч\w*|рождеств\w*|пасх\w*"
     r"|масленниц\w*|сочельник\w*|хэллоуин\w*|день\s+(?:святого\s+)?валентина)\b", "namedholiday"),
    (r"\bсегодня\s+ночью\b", "tonight"),
    (r"\bсегодня\b", "today"),
    (r"\bпослезавтра\b", "the day after tomorrow"),
    (r"\bзавтра\b", "tomorrow"),
    (r"\bпозавчера\b", "2 days ago"),
    (r"\bвчера\b", "yesterday"),
    (r"\bчас(?:а|ов)?\s+дня\b", "afternoon"),
    (r"\b(?:утром|утра|утро)\b", "morning"),
    (r"\b(?:днём|днем)\b", "afternoon"),
    (r"\b(?:вечером|вечера|вечер)\b", "evening"),
    (r"\b(?:ночью|ночи|ночь)\b", "night"),
    (r"\bполдень\b", "noon"),
    (r"\bполночь\b", "midnight"),
    (r"\bпо\s+будням\b|\bв\s+будни\b|\bкажд(?:ый|ое)\s+будний\s+день\b", "every weekday"),
    (r"\b(?:рабоч(?:ий|его|им)|будн(?:ий|его|им))\s+день\b", "weekday"),
    (r"\bеженедельно\s+по\s+", "weekly on "),
    (r"\b(недел\w*)\s+по\s+", r"\1 on "),
    (r"\bкаждые\s+полчаса\b", "every 30 minutes"),
    (r"\bраз\s+в\s+час\b", "hourly"),
    (r"\bчерез\s+(неделю|месяц|год|сутки|день|час)\b", r"in a \1"),
    (r"\bбудний\b", "weekday"),
    (r"\bпо\s+выходным\b", "every weekend"),
    (r"\bна\s+(?:эт(?:их|и)\s+)?выходных\b|\bв\s+(?:эти\s+)?выходные\b", "this weekend"),
    (r"\bна\s+следующих\s+выходных\b", "next weekend"),
    (r"\bвыходн\w*\b", "weekend"),
    *[(rf"\bпо\s+{plural}(?:\s*(?:,|и)\s*)?", f"every {name} and ")
      for _, plural, name in _WEEKDAYS],
    *[(rf"\b{plural}\b", f"{name} ") for _, plural, name in _WEEKDAYS],
    *[(rf"\b(?:во?\s+)?{singular}\b", name) for singular, _, name in _WEEKDAYS],
    *[(rf"\b{stem}\w*", name) for stem, name in _MONTHS],
    (r"\bраз\s+в\s+две\s+недели\b|\bраз\s+в\s+2\s+недели\b", "every 2 weeks"),
    (r"\bраз\s+в\s+неделю\b", "weekly"),
    (r"\bраз\s+в\s+месяц\b", "monthly"),
    (r"\bраз\s+в\s+год\b", "yearly"),
    (r"\bчерез\s+день\b(?=.*\b(?:в\s+\d|утром|вечером)\b|$)", "every other day"),
    (r"\bкажд(?:ый|ую|ое|ые|ого|ой|ую)\b", "every"),
    (r"\bежедневно\b", "daily"),
    (r"\bеженедельно\b", "weekly"),
    (r"\bежемесячно\b", "monthly"),
    (r"\bежегодно\b", "yearly"),
    (r"\bежечасно\b", "hourly"),
    (r"\bкаждого\s+месяца\b|\bevery\s+месяца\b", "of every month"),
    (r"\b(\d{1,2})-?(?:го|е|ое)?\s+числ(?:а|о)\b", r"the \1th"),
    (r"\bперв(?:ое|ого)\s+числ(?:а|о)\b", "the 1st"),
    (r"\bчисл(?:а|о)\b", ""),
    (r"(?<!\d\s)\bмесяца\b", "of the month"),
    (r"\bна\s+следующей\s+неделе\b", "next week"),
    (r"\bв\s+следующем\s+месяце\b", "next month"),
    (r"\bв\s+следующем\s+году\b", "next year"),
    (r"\b(?:следующ\w+|ближайш\w+)\b", "next"),
    (r"\b(?:эт(?:от|у|о|ой))\b", "this"),
    *[(rf"\b{stem}\b", name) for stem, name in _ORDINALS],
    (r"\bполчаса\b", "half an hour"),
    (r"\bчетверть\s+часа\b", "15 minutes"),
    (r"\bполтора\b|\bполторы\b", "1.5"),
    (r"\bпар(?:у|а)\b", "a couple of"),
    (r"\bдвое\s+суток\b", "2 days"),
    (r"\bнескольк\w+\b", "a few"),
    (rf"\b(?:{_words(_NUMBERS)})\b", lambda m: str(_NUMBERS[m[0].lower()])),
    (r"\bминут\w*|\bмин\b\.?", "minutes"),
    (r"\bчас(?:а|ов)?\b|(?<=\d\s)ч\b\.?", "hours"),
    (r"\b(?:дн(?:я|ей)|день|сут(?:ки|ок))\b|(?<=\d\s)дн\b\.?", "days"),
    (r"\bнедел\w*|\bнед\b\.?", "weeks"),
    (r"\bмесяц\w*", "months"),
    (r"\b(?:год(?:а)?|лет)\b", "years"),
    (r"\bчерез\b", "in"),
    (r"\bназад\b", "ago"),
    (r"\bи\b", "and"),
    (r"\bв\b(?=\s+\d)", "at"),
    (r"\b(?:когда-нибудь|скоро|потом|позже|как-нибудь|на\s+днях)\b", "sometime"),
    (r"\b(?:в\s+)?(?:начале|середине|конце)\s+(?=next|this|months|weeks|december|january)",
     "sometime "),
)  # fmt: skip

LANGUAGE = Language(
    code="ru",
    time_words=words(
        "послезавтра сегодня утром вечером ночью полночь полдень понедельник вторник"
        " среду среда четверг пятницу пятница субботу суббота воскресенье января февраля марта"
        " апреля августа сентября октября ноября декабря минут минуты часов"
    ),
    dangling_after=re.compile(r"^(?:с\s+половиной|с\s+четвертью)\b|^(?:в|через)\s*$", re.I),
    dangling_before=re.compile(r"\b(?:в\s+эту|в\s+этот|в\s+следующий|в\s+следующую)$", re.I),
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:напомн(?:и|ите|ить)(?:\s+(?:мне|нам))?\b|мне\b|что(?:бы)?\b|о\s+том,?\s+что\b|про\b"
        r"|[:,;.!]|-+|–|—)\s*",
        re.I,
    ),
    trail=re.compile(r"\s*(?:\b(?:в|во|на|к|до|что|про)|[:,;(\[-]|–|—)$", re.I),
    examples=(
        "через 10 минут · завтра в 9 · сегодня в 8 вечера · в пятницу в 15:30 · "
        "на следующей неделе · 3 марта · каждый понедельник в 9 · каждые 2 часа"
    ),
)
