"""German: "morgen um 9: Meeting vorbereiten", "jeden Montag um 9 Teamrunde"."""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language, words
from tasks.reminders.when.rewrite import rules

_WEEKDAYS = {"montag": "monday", "dienstag": "tuesday", "mittwoch": "wednesday",
             "donnerstag": "thursday", "freitag": "friday", "samstag": "saturday",
             "sonnabend": "saturday", "sonntag": "sunday"}  # fmt: skip
_SHORT_DAYS = {"mo": "monday", "di": "tuesday", "mi": "wednesday", "do": "thursday",
               "fr": "friday", "sa": "saturday", "so": "sunday"}  # fmt: skip
_MONTHS = {"januar": "january", "jänner": "january", "februar": "february", "märz": "march",
           "april": "april", "mai": "may", "juni": "june", "juli": "july",
           "august": "august", "september": "september", "oktober": "october",
           "november": "november", "dezember": "december", "jan": "january",
           "feb": "february", "mär": "march", "apr": "april", "jun": "june", "jul": "july",
           "aug": "august", "sep": "september", "sept": "september", "okt": "october",
           "nov": "november", "dez": "december"}  # fmt: skip
_PARTS = {"morgen": "morning", "vormittag": "morning", "mittag": "noon",
          "nachmittag": "afternoon", "abend": "evening", "nacht": "night"}  # fmt: skip
_NUMBERS = {"eins": 1, "ein": 1, "eine": 1, "einer": 1, "einem": 1, "einen": 1, "zwei": 2,
            "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
            "zehn": 10, "elf": 11, "zwölf": 12, "fünfzehn": 15, "zwanzig": 20,
            "dreißig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60}  # fmt: skip
_ORDINALS = {"ersten": "first", "erste": "first", "zweiten": "second", "dritten": "third",
             "vierten": "fourth", "fünften": "fifth", "letzten": "last", "letzte": "last"}  # fmt: skip


_MONTH_NUMBERS = {name: index for index, name in enumerate(
    ("januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
     "oktober", "november", "dezember"), start=1)}  # fmt: skip
_HOUR_WORDS = {"eins": 1, "ein": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
               "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12}  # fmt: skip


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _HOUR_WORDS[word.lower()]


def _around_half(match: re.Match[str]) -> str:
    """``fünf nach halb 5`` → ``4:35``, ``fünf vor halb 8`` → ``7:25`` (halb 8 is 7:30)."""
    minutes = _number(match["m"]) * (1 if match["dir"].lower() == "nach" else -1)
    total = (_number(match["h"]) - 1) * 60 + 30 + minutes
    return f"{total // 60}:{total % 60:02d}"


def _three_quarters(match: re.Match[str]) -> str:
    """``dreiviertel 8`` → ``7:45``."""
    return f"{_number(match['h']) - 1}:45"


def _night(match: re.Match[str]) -> str:
    """``11 Uhr nachts`` → ``23:00``, ``2 Uhr nachts`` → ``02:00``."""
    hour = int(match["h"])
    hour = hour + 12 if 6 <= hour <= 11 else hour % 12
    return f"{hour:02d}:{(match['m'] or ':00')[1:]}"


def _tonight(match: re.Match[str]) -> str:
    """``heute Nacht um 11`` → today 23:00; ``heute Nacht um 2`` → tomorrow 02:00."""
    hour = int(match["h"])
    if 6 <= hour <= 11:
        return f"heute um {hour + 12}:00"
    return f"morgen um {hour % 12:02d}:00"


def _dated(match: re.Match[str]) -> str:
    """``3. März 2026`` → ``2026-03-03``: Duckling reads the year as a clock time."""
    month = _MONTH_NUMBERS[match["month"].lower().replace("maerz", "märz")]
    return f"{match['y']}-{month:02d}-{int(match['d']):02d}"


_DAY_PARTS = {"morgen": "morgens", "vormittag": "Vormittag", "mittag": "Mittag",
              "nachmittag": "Nachmittag", "abend": "Abend", "nacht": "Nacht"}  # fmt: skip


def _weekday_part(match: re.Match[str]) -> str:
    """``Montagmorgen`` → ``Montag morgens``: Duckling reads "Morgen um 7" as tomorrow."""
    return f"{match['day']} {_DAY_PARTS[match['part'].lower()]}"


def _alternatives(words: dict[str, str] | dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


def _weekday(match: re.Match[str]) -> str:
    word = match[0].lower()
    for german, english in _WEEKDAYS.items():
        if word.startswith(german):
            rest = word[len(german) :]
            plural = "s" if rest == "s" else ""
            part = next((_PARTS[p] for p in _PARTS if rest.endswith(p)), "")
            return f"{english}{plural} {part}".strip()
    return word


_DAY_NAMES = "montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag"

NORMALIZE = rules(
    # abbreviations and typos of "morgen" (tomorrow); "übermorgen" likewise
    (r"\b(?:morgn|mrgn|mrg|morgne|mogen|morgem)\b", "morgen"),
    (r"\b(?:übermorgn|übermrgn|uebermorgn)\b", "übermorgen"),
    (r"\b(?P<m>\d{1,2}|fünf|zehn)\s+(?P<dir>nach|vor)\s+halb\s+(?P<h>\d{1,2}|\w+)\b",
     _around_half),
    (r"\bdrei\s*viertel\s+(?P<h>\d{1,2}|eins|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn"
     r"|elf|zwölf)\b", _three_quarters),
    (r"\bheute\s+nacht\s+um\s+(?P<h>\d{1,2})(?:\s*uhr)?\b", _tonight),
    (r"(?P<h>\d{1,2})(?P<m>:\d\d)?\s*(?:uhr\s+)?nachts\b", _night),
    (r"\babends\b", "am Abend"),
    (rf"\b(?P<day>{_DAY_NAMES})\s*(?P<part>morgen|vormittag|nachmittag|mittag|abend|nacht)\b",
     _weekday_part),
    (r"\b(?P<d>\d{1,2})\.?\s*(?P<month>januar|februar|märz|maerz|april|mai|juni|juli|august"
     r"|september|oktober|november|dezember)\s+(?P<y>\d{4})\b", _dated),
    (r"\bfrueh\b", "früh"),
    (r"\b(?:ue|u)bermorgen\b", "übermorgen"),
    (r"\bnaechste", "nächste"),
    (r"\btaeglich\b", "täglich"),
    (r"\bwoechentlich\b", "wöchentlich"),
    (r"\bjaehrlich\b", "jährlich"),
    (r"\bFreitg\b", "Freitag"),
    (r"\bheut\b", "heute"),
    (r"\bMinten\b", "Minuten"),
    (r"(?<=\d)\s*(?:Stdn?|Std\.)(?=\W|$)", " Stunden"),
    (r"\b(?:Stdn?|Std\.)(?=\W|$)", "Stunden"),
    (r"(?<=\d)Uhr\b", " Uhr"),
    (r"(?P<t>\d\d:\d\d)h\b", r"\g<t>"),
    (r"(?<=\bum )(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?=\s|$)", r"\g<h>h\g<m>"),
    (r"\b(?:in\s+)?(?:'|’)?ner\b", "in einer"),
    (r"\bin\s+in einer\b", "in einer"),
    (r"\bMo\.?\s*-\s*Fr\.?(?=\s|$)", "werktags"),
)  # fmt: skip

#: Case matters here: "morgen" is tomorrow, "Morgen" (mid-sentence) the morning.
_CASED = rules(
    (r"\b(?:jeden|jede|jedem)\s+[Mm]orgen\b", "every morning"),
    (r"(?:(?<=^)|(?<=[\s:,]))[Mm]orgen\s+(früh|vormittag|mittag|nachmittag|abend|nacht)\b",
     lambda m: f"tomorrow {_PARTS.get(m[1].lower(), 'morning')}"),
    (r"(?:^|(?<=\s))morgen\b|^Morgen\b(?=\s+(?:um|\d|früh|vormittag|mittag|nachmittag|abend))",
     "tomorrow"),
    flags=0,
)  # fmt: skip

CANONICAL = _CASED + rules(
    (r"\bheute\s+nacht\b", "tonight"),
    (r"\büberübermorgen\b", "the day after the day after tomorrow"),
    (r"\bübermorgen\b", "the day after tomorrow"),
    (r"\bheute\b", "today"),
    (r"\bvorgestern\b", "2 days ago"),
    (r"\bgestern\b", "yesterday"),
    (r"\b(?:morgens|früh|vormittags|Vormittag|Morgen)\b", "morning"),
    (r"\b(?:mittags|Mittag)\b", "noon"),
    (r"\b(?:nachmittags|Nachmittag)\b", "afternoon"),
    (r"\b(?:abends|Abend)\b", "evening"),
    (r"\b(?:nachts|Nacht)\b", "night"),
    (r"\bMitternacht\b", "midnight"),
    (rf"\b(?:{_alternatives(_WEEKDAYS)})(?:s|morgen|vormittag|mittag|nachmittag|abend|nacht)*\b",
     _weekday),
    (rf"\b(?:{_alternatives(_SHORT_DAYS)})\b\.?(?=\s*(?:um\s+)?\d)", lambda m: _SHORT_DAYS[m[0].rstrip('.').lower()]),
    (rf"\b(?:{_alternatives(_MONTHS)})\b\.?", lambda m: _MONTHS[m[0].rstrip('.').lower()]),
    (r"(?<![\d.])(\d{1,2})\.(?=\s|$)", r"\1st"),
    (r"\b(?:werktags|an\s+werktagen|jeden\s+werktag)\b", "every weekday"),
    (r"\bimmer(?=\s+(?:mon|diens|mittwoch|donners|frei|sams|sonn|werk)\w*s\b)", "every"),
    (r"\bjede\s+halbe\s+stunde\b", "every 30 minutes"),
    (r"\balle\s+14\s+tage\b", "every 2 weeks"),
    (r"\bam\s+letzten\s+tag\s+(?:jedes|des|im)\s+monats?\b", "every last day of the month"),
    (r"\b(?:jeden|jede|jedes|jedem|alle)\b", "every"),
    (r"\bund\b", "and"),
    (r"\boder\b", "or"),
    (r"\b(?:heilig(?:er\s+)?abend|weihnachten|silvester|neujahr|ostern|pfingsten|muttertag"
     r"|vatertag|nikolaus|valentinstag|karfreitag|ostermontag|fasching|rosenmontag)\b",
     "namedholiday"),
    (r"\btäglich\b", "daily"),
    (r"\bwöchentlich\b", "weekly"),
    (r"\bmonatlich\b", "monthly"),
    (r"\bjährlich\b", "yearly"),
    (r"\bstündlich\b", "hourly"),
    (r"\b(?:im|des|jedes)\s+monats?\b", "of the month"),
    (rf"\b(?:{_alternatives(_ORDINALS)})\b", lambda m: _ORDINALS[m[0].lower()]),
    (r"\b(?:in\s+)?einer\s+halben\s+stunde\b", "in half an hour"),
    (r"\b(?:in\s+)?einem\s+halben\s+jahr\b", "in 6 months"),
    (r"\b(?:einer\s+)?dreiviertelstunde\b", "45 minutes"),
    (r"\b(?:einer\s+)?viertelstunde\b", "15 minutes"),
    (r"\b(?:anderthalb|eineinhalb)\b", "1.5"),
    (r"\b(?:ein\s+paar|einigen|einige|paar)\b", "a few"),
    (rf"\b(?:{_alternatives(_NUMBERS)})\b", lambda m: str(_NUMBERS[m[0].lower()])),
    (r"\bminuten?\b|\bmin\b\.?", "minutes"),
    (r"\bstunden?\b", "hours"),
    (r"\btage?n?\b", "days"),
    (r"\bwochenende\b", "weekend"),
    (r"\bwochen?\b", "weeks"),
    (r"\bmonate?n?\b", "months"),
    (r"\bjahre?n?\b", "years"),
    (r"\b(?:nächsten|nächste|nächster|nächstes|kommenden|kommende)\b", "next"),
    (r"\b(?:diesen|diese|dieses|diesem)\b", "this"),
    (r"\bum\b", "at"),
    (r"\bam\b", "on"),
    (r"\bvor\s+(\S+\s+(?:minutes|hours|days|weeks|months|years))\b", r"\1 ago"),
    (r"\b(?:irgendwann|bald|später|demnächst|gleich|zeitnah)\b", "sometime"),
    (r"\b(?:anfang|mitte|ende)\b", "sometime"),
    (r"\bwerktag\b", "weekday"),  # "nächster Werktag" → "next weekday"
    (r"\bim(?=\s+(?:january|february|march|april|may|june|july|august|september|october"
     r"|november|december)\b)", "in"),  # "letzter Sonntag im Januar"
    flags=re.I,
)  # fmt: skip

LANGUAGE = Language(
    code="de",
    time_words=words(
        "morgen morgens übermorgen heute abend abends nachmittag nachmittags vormittag"
        " vormittags mittag mittags mitternacht montag dienstag mittwoch donnerstag freitag"
        " samstag sonntag januar februar april august september oktober november dezember"
        " minuten stunden"
    ),
    dangling_after=re.compile(
        r"^(?:und\s+(?:eine\s+)?(?:halbe|viertel)|kommenden?)\b|^(?:um|am|in)\s*$", re.I
    ),
    dangling_before=re.compile(r"\b(?:diesen|nächsten|kommenden)$", re.I),
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:(?:bitte\s+)?erinnere?\s+(?:mich|uns)\b|mich\b|uns\b|daran\b,?|an\b|dass\b|das\b"
        r"|zu\b|[:,;.!]|-+|–|—)\s*",
        re.I,
    ),
    trail=re.compile(r"\s*(?:\b(?:an|am|um|daran|ab|bis|für|zum|dass)|[:,;(\[-]|–|—)$", re.I),
    examples=(
        "in 10 Minuten · morgen um 9 · heute Abend um 8 · am Freitag um 15:30 · "
        "nächste Woche · am 3. März · jeden Montag um 9 · täglich um 7 · alle 2 Stunden"
    ),
)
