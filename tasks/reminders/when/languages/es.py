"""Spanish: "mañana a las 9: llamar a Ana", "todos los lunes a las 9: reunión de equipo"."""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language, words
from tasks.reminders.when.rewrite import rules

_WEEKDAYS = {"lunes": "monday", "martes": "tuesday", "miércoles": "wednesday",
             "miercoles": "wednesday", "jueves": "thursday", "viernes": "friday",
             "sábado": "saturday", "sabado": "saturday", "domingo": "sunday"}  # fmt: skip
_MONTHS = {"enero": "january", "febrero": "february", "marzo": "march", "abril": "april",
           "mayo": "may", "junio": "june", "julio": "july", "agosto": "august",
           "septiembre": "september", "setiembre": "september", "octubre": "october",
           "noviembre": "november", "diciembre": "december"}  # fmt: skip
_NUMBERS = {"un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
            "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
            "quince": 15, "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50}  # fmt: skip
_ORDINALS = {"primer": "first", "primero": "first", "primera": "first", "segundo": "second",
             "segunda": "second", "tercer": "third", "tercero": "third", "tercera": "third",
             "cuarto": "fourth", "quinto": "fifth", "último": "last", "ultimo": "last",
             "última": "last"}  # fmt: skip


def _words(table: dict[str, str] | dict[str, int]) -> str:
    return "|".join(sorted(table, key=len, reverse=True))


def _weekday(match: re.Match[str]) -> str:
    word = match["day"].lower()
    return _WEEKDAYS[word] + ("s" if match["plural"] else "")


_MONTH_LIST = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
               "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip


def _slashed(match: re.Match[str]) -> str:
    """``24/12`` → ``24 de diciembre`` (Duckling reads only the day of "el 24/12")."""
    day, month = int(match["d"]), int(match["m"])
    if not 1 <= month <= 12:
        return match[0]
    return f"{day} de {_MONTH_LIST[month - 1]}" + (f" de {match['y']}" if match["y"] else "")


NORMALIZE = rules(
    (r"\b(?:mñn|mnn|mañna|manana|mañan|mñana|mñna)\b", "mañana"),
    (r"(?<![\d/.:])(?P<d>\d{1,2})/(?P<m>\d{1,2})(?:/(?P<y>\d{4}))?(?![\d/])(?!\s*hora)",
     _slashed),
    (r"\b(?P<d>\d{1,2})(?:º|ro|ero|o)(?=\s+de\b)", r"\g<d>"),
    (r"\bd(?=\s+la\s+(?:mañana|tarde|noche|madrugada))", "de"),
    (r"\b(?P<w>dentro|después|despues|antes)\s+d(?=\s+\d)", r"\g<w> de"),  # "dentro d 15 minutos"
    (r"\bx(?=\s+la\s+(?:mañana|tarde|noche))", "por"),
    (r"(?<=recuérdame )q\b|(?<=recuerdame )q\b|^q\b", "que"),
    (r"(?P<t>\d{1,2}(?::\d\d)?)\s+en\s+punto\b", r"\g<t>"),
    (r"(?P<t>\d{1,2}(?::\d\d)?)\s+de\s+la\s+madrugada\b", r"\g<t> de la mañana"),
    (r"\b(?:al\s+)?final\s+del\s+d[ií]a\b", "a las 17:00"),
    (r"(?P<t>\d{1,2}:\d\d)\s*(?:hs|hrs|h)\b", r"\g<t>"),
    (r"(?<!\ben )(?<!\ben  )(?P<h>\b\d{1,2})\s*(?:hs|hrs)\b", r"\g<h>:00"),
    (r"\b(?:pasado\s+manana)\b", "pasado mañana"),
    (r"\bhs\b", "horas"),
    (r"\bmins?\b\.?", "minutos"),
    (r"(?<![\w+])\+\s*(?=\d)", "en "),
    (r"(?<![\d:])(?P<h>\d{1,2})\s*h\b(?!\s*\d)", r"\g<h>:00"),
    # Duckling reads "comida" and "cena" as mealtimes and would take them out of the text.
    (r"\b(?:comida|cena|almuerzo|desayuno|merienda)\b", "plato"),
    (r"\b(?:invierno|verano|primavera|otoño)\b", "estación"),
)  # fmt: skip

CANONICAL = rules(
    (r"\b(?:a\s+esta\s+hora|a\s+la\s+misma\s+hora)\b", "at this time"),
    (r"\b(?:navidad|nochebuena|nochevieja|año\s+nuevo|reyes|semana\s+santa|pascua"
     r"|san\s+valent[ií]n|halloween|d[ií]a\s+de\s+(?:la\s+madre|el\s+padre|muertos))\b",
     "namedholiday"),
    (r"\b(?:esta|hoy\s+en\s+la|hoy\s+por\s+la)\s+noche\b", "tonight"),
    (r"\banoche\b", "yesterday"),
    (r"\bhoy\b", "today"),
    (r"\bpasado\s+mañana\b", "the day after tomorrow"),
    (r"\b(?:por|en|de|a|al)\s+la\s+mañana\b", "in the morning"),
    (r"\b(?:cada|todas\s+las|las)\s+mañanas?\b", "every morning"),
    (r"\besta\s+mañana\b", "this morning"),
    (r"\bmañana\b", "tomorrow"),
    (r"\banteayer\b", "2 days ago"),
    (r"\bayer\b", "yesterday"),
    (r"\b(?:al\s+)?mediod[ií]a\b", "noon"),
    (r"\bmedianoche\b", "midnight"),
    (r"\b(?:por|en|de|a)\s+la\s+tarde\b|\btardes?\b", "afternoon"),
    (r"\b(?:por|en|de|a)\s+la\s+noche\b|\bnoches?\b", "night"),
    (r"\bmadrugada\b", "morning"),
    (r"\b(?:(?:todos\s+)?los\s+)?d[ií]as\s+(?:laborables|de\s+semana|entre\s+semana)\b"
     r"|\bentre\s+semana\b|\bde\s+lunes\s+a\s+viernes\b|\bcada\s+d[ií]a\s+laborable\b",
     "every weekday"),
    (rf"\b(semanalmente|semanas)\s+(?:los|el)\s+(?=(?:{_words(_WEEKDAYS)})\b)", r"\1 on "),
    (rf"(?<!todos )(?<!todas )\blos\s+(?=(?:{_words(_WEEKDAYS)})\b)", "every "),
    (rf"\b(?P<day>{_words(_WEEKDAYS)})(?P<plural>(?<=s)(?=\b))?", _weekday),
    (rf"\b(?:{_words(_MONTHS)})\b", lambda m: _MONTHS[m[0].lower()]),
    (r"(?<!cada )\bd[ií]a\s+laborable\b", "weekday"),
    (r"\bfin(?:es)?\s+de\s+semana\b|\bfinde\b", "weekend"),
    (r"\blos\s+weekend\b", "every weekend"),
    (r"\bun\s+d[ií]a\s+s[ií]\s+y\s+otro\s+no\b", "every other day"),
    (r"\bcada\s+hora\s+y\s+media\b", "every 90 minutes"),
    (r"\bcada\s+media\s+hora\b", "every 30 minutes"),
    (r"\buna\s+vez\s+al\s+mes\b", "every month"),
    (r"\buna\s+vez\s+a\s+la\s+semana\b", "every week"),
    (r"\bd[ií]a\s+(?:sí|si)\s*,?\s+d[ií]a\s+no\b", "every other day"),
    (r"\b(?:de|del)\s+cada\s+mes\b", "of every month"),
    (r"\bdel\s+mes\b", "of the month"),
    (r"\b(?:todos|todas)\s+(?:los|las)\b|\bcada\b", "every"),
    (r"\b(?:diariamente|a\s+diario)\b", "daily"),
    (r"\bsemanalmente\b", "weekly"),
    (r"\bmensualmente\b", "monthly"),
    (r"\banualmente\b", "yearly"),
    (r"\b(?:la\s+semana\s+que\s+viene|la\s+próxima\s+semana|la\s+semana\s+próxima)\b", "next week"),
    (r"\b(?:el\s+mes\s+que\s+viene|el\s+próximo\s+mes|el\s+mes\s+próximo)\b", "next month"),
    (r"\b(?:el\s+año\s+que\s+viene|el\s+próximo\s+año|el\s+año\s+próximo)\b", "next year"),
    (r"\b(?:el\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+"
     r"(?:que\s+viene|próximo)\b", r"next \1"),
    (r"\b(?:próxim[oa]s?|siguiente)\b", "next"),
    (r"\b(?:este|esta|estos)\b", "this"),
    (r"\b(?:en\s+)?media\s+hora\b", "in half an hour"),
    (r"\btres\s+cuartos\s+de\s+hora\b", "45 minutes"),
    (r"\b(?:un\s+)?cuarto\s+de\s+hora\b", "15 minutes"),
    (r"\bhoras?\s+y\s+media\b", "hours and a half"),
    (r"\bhoras?\s+y\s+cuarto\b", "hours and 15 minutes"),
    (rf"\b(?:{_words(_ORDINALS)})\b", lambda m: _ORDINALS[m[0].lower()]),
    (r"\bel\s+d[ií]a\s+(\d{1,2})\b", r"on the \1th"),
    (r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+de\s+la\s+semana\s+"
     r"(?:que\s+viene|próxima)\b", r"\1 of next week"),
    (r"\bel\s+(\d{1,2})\b(?!\s*(?::|/|h\b))", r"on the \1th"),
    (r"\b(?:el|los)\s+(?=monday|tuesday|wednesday|thursday|friday|saturday|sunday)", "on "),
    (r"\bel\s+(?=first|second|third|fourth|fifth|last)", "the "),
    (r"\bde\s+(?=january|february|march|april|may|june|july|august|september|october"
     r"|november|december)", "of "),
    (r"\b(?:unos|unas)\s+(?:pocos|pocas)\b|\bpoc[oa]s\b|\bvarios\b|\bvarias\b|\bunos\b|\bunas\b",
     "a few"),
    (r"\bun\s+par\s+de\b", "a couple of"),
    (rf"\b(?:{_words(_NUMBERS)})\b", lambda m: str(_NUMBERS[m[0].lower()])),
    (r"\bminutos?\b", "minutes"),
    (r"\bhoras?\b", "hours"),
    (r"\bd[ií]as?\b", "days"),
    (r"\bsemanas?\b", "weeks"),
    (r"\bmes(?:es)?\b", "months"),
    (r"\baños?\b", "years"),
    (r"\b(?:en|dentro\s+de|de\s+aquí\s+a)\b", "in"),
    (r"(?<=\bin )(\d+)\s*h\s*([0-5]\d)\b", r"\1 hours \2 minutes"),
    (r"\bhace\b", "ago"),
    (r"\by\b", "and"),
    (r"\ba\s+las?\b", "at"),
    (r"\b(?:pronto|luego|más\s+tarde|algún\s+día|cuando\s+pueda|en\s+algún\s+momento)\b",
     "sometime"),
    (r"\b(?:principios|mediados|finales)\s+de\b", "sometime"),
)  # fmt: skip

LANGUAGE = Language(
    code="es",
    time_words=words(
        "mañana pasado hoy tarde noche mediodía medianoche lunes martes miércoles jueves"
        " viernes sábado domingo enero febrero marzo abril junio julio agosto septiembre"
        " octubre noviembre diciembre minutos horas"
    ),
    dangling_after=re.compile(
        r"^(?:y\s+(?:media|cuarto)|que\s+viene)\b|^(?:a|en|el|este)\s*$", re.I
    ),
    dangling_before=re.compile(r"\b(?:este|próximo|el)$", re.I),
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:(?:por\s+favor\s+)?recu[ée]rda(?:me|nos)\b|av[íi]same\b|acuérdate\b|de\b|que\b|q\b"
        r"|[:,;.!¡]|-+|–|—)\s*",
        re.I,
    ),
    trail=re.compile(r"\s*(?:\b(?:a|el|la|las|en|para|de|que|sobre)|[:,;(\[-]|–|—)$", re.I),
    examples=(
        "en 10 minutos · mañana a las 9 · esta noche a las 8 · el viernes a las 15:30 · "
        "la semana que viene · el 3 de marzo · todos los lunes a las 9 · cada 2 horas"
    ),
)
