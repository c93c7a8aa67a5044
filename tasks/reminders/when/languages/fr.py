"""French: "demain à 9h : appeler Anna", "tous les lundis à 9h : réunion d'équipe"."""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language, words
from tasks.reminders.when.rewrite import rules

_WEEKDAYS = {"lundi": "monday", "mardi": "tuesday", "mercredi": "wednesday", "jeudi": "thursday",
             "vendredi": "friday", "samedi": "saturday", "dimanche": "sunday"}  # fmt: skip
_MONTHS = {"janvier": "january", "février": "february", "fevrier": "february", "mars": "march",
           "avril": "april", "mai": "may", "juin": "june", "juillet": "july", "août": "august",
           "aout": "august", "septembre": "september", "octobre": "october",
           "novembre": "november", "décembre": "december", "decembre": "december",
           "janv": "january", "févr": "february", "déc": "december"}  # fmt: skip
_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
            "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15,
            "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50}  # fmt: skip
_ORDINALS = {"premier": "first", "première": "first", "1er": "1st", "1re": "1st",
             "deuxième": "second", "second": "second", "seconde": "second",
             "troisième": "third", "quatrième": "fourth", "cinquième": "fifth",
             "dernier": "last", "dernière": "last"}  # fmt: skip


def _words(table: dict[str, str] | dict[str, int]) -> str:
    return "|".join(sorted(table, key=len, reverse=True))


def _weekday(match: re.Match[str]) -> str:
    word = match[0].lower()
    return _WEEKDAYS[word.rstrip("s")] + ("s" if word.endswith("s") else "")


NORMALIZE = rules(
    (r"\b(?:ds|dnas|dasn)\b(?=\s+(?:\d|un|une|deux|trois|quelques))", "dans"),
    (r"\b(?:dmain|demian|demin|2main|deamin)\b", "demain"),
    (r"\bmercerdi\b", "mercredi"),
    (r"\bminuts\b", "minutes"),
    (r"\btt\s+les\b", "tous les"),
    (r"\bce\s+we\b", "ce week-end"),
    (r"\bcette\s+nuit\b(?!\s+(?:à|a|vers)\s)", "ce soir à 20h"),
    (r"(?P<h>\d{1,2})\s*h\s+et\s+demie?\b", r"\g<h>h30"),
    (r"(?P<h>\d{1,2})\s*h\s+et\s+quart\b", r"\g<h>h15"),
    (r"\b(?:en\s+)?fin\s+de\s+(?:la\s+)?journée\b", "à 17h"),
    (r"(?<![\d./])(?P<d>\d{1,2})\.(?P<m>\d{1,2})(?![.\d])", r"\g<d>/\g<m>"),
    # Duckling reads "déjeuner" as lunchtime and would take it out of the reminder text.
    (r"\b(?:petit[- ])?d[ée]jeuner\b|\bd[îi]ner\b|\bgoûter\b", "repas"),
    (r"\b(?:hiver|été|printemps|automne)\b", "saison"),  # seasons are not a time to remind at
    (r"(?-i:\bSam\b)", "Sammy"),  # the name, not "sam." for samedi
    (r"\bauj\b\.?", "aujourd'hui"),
    (r"\baujourd\s?hui\b", "aujourd'hui"),
    (r"\bapr[eè]m\b", "après-midi"),
    (r"\bapres\b", "après"),
    (r"(?<=\d)\s*H\b", "h"),
    (r"(?<!\by )\ba(?=\s+\d)", "à"),
    (r"(?<![\w+])\+\s*(?=\d)", "dans "),
)  # fmt: skip

CANONICAL = rules(
    (r"\bcette\s+nuit\b", "tonight"),
    (r"\bce\s+soir\b", "this evening"),
    (r"\baujourd'hui\b", "today"),
    (r"\baprès-demain\b|\baprès\s+demain\b", "the day after tomorrow"),
    (r"\bdemain\b", "tomorrow"),
    (r"\bavant-hier\b", "2 days ago"),
    (r"\bhier\b", "yesterday"),
    (r"\baprès-midis?\b|\baprès\s+midi\b", "afternoon"),
    (r"\b(?:matin|matinée)s?\b", "morning"),
    (r"\bmidi\b", "noon"),
    (r"\bminuit\b", "midnight"),
    (r"\b(?:soir|soirée)s?\b", "evening"),
    (r"\bnuits?\b", "night"),
    (r"\bun\s+jour\s+sur\s+deux\b", "every other day"),
    (r"\bune\s+semaine\s+sur\s+deux\b", "every other week"),
    (r"\bdu\s+lundi\s+au\s+vendredi\b", "every weekday"),
    (r"\b(?:le\s+)?prochain\s+jour\s+ouvr(?:é|able)\b", "next weekday"),
    (r"\b(?:toutes|tous)\s+les\s+demi-heures\b", "every 30 minutes"),
    (r"\b(?:noël|réveillon|pâques|toussaint|saint-sylvestre|nouvel\s+an|fête\s+des\s+(?:mères|pères)"
     r"|jour\s+de\s+l['’]an|saint-valentin|pentecôte|ascension|chandeleur|halloween)\b",
     "namedholiday"),
    (rf"\b(?:un|une)\s+(?:{_words(_WEEKDAYS)})\s+sur\s+deux\b",
     lambda m: "every other " + _WEEKDAYS[m[0].split()[1].lower()]),
    (rf"\b(?:{_words(_WEEKDAYS)})s?\b", _weekday),
    (rf"\b(?:{_words(_MONTHS)})\b\.?", lambda m: _MONTHS[m[0].rstrip('.').lower()]),
    (r"\b(?:en\s+semaine|les\s+jours\s+de\s+semaine|(?:chaque|tous\s+les)\s+jours?\s+"
     r"(?:ouvrables?|ouvrés?|de\s+semaine))\b", "every weekday"),
    (r"\bweek-?end\b", "weekend"),
    (r"\btous\s+les\s+15\s+jours\b|\btoutes\s+les\s+deux\s+semaines\b", "every 2 weeks"),
    (r"\b(?:de\s+chaque|de\s+tous\s+les)\s+mois\b", "of every month"),
    (r"\b(?:tous|toutes)\s+les\b|\bchaque\b", "every"),
    (r"\bquotidiennement\b|\bchaque\s+jour\b", "daily"),
    (r"\bhebdomadairement\b", "weekly"),
    (r"\bmensuellement\b", "monthly"),
    (r"\bannuellement\b", "yearly"),
    (r"\b(?:de\s+chaque|de\s+tous\s+les)\s+mois\b", "of every month"),
    (r"\bdu\s+mois\b", "of the month"),
    (r"\b(?:d'|de\s+)(?=january|february|march|april|may|june|july|august|september|october"
     r"|november|december)", "of "),
    (r"\bde\s+la\s+semaine\s+prochaine\b|\bla\s+semaine\s+prochaine\b", "next week"),
    (r"\b(?:le\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+prochain\b",
     r"next \1"),
    (r"\b(?:le\s+)?mois\s+prochain\b", "next month"),
    (r"\bl'année\s+prochaine\b|\bl'an\s+prochain\b", "next year"),
    (r"\bprochaine?\b", "next"),
    (r"\b(?:ce|cet|cette)\b", "this"),
    (rf"\b(?:{_words(_ORDINALS)})\b", lambda m: _ORDINALS[m[0].lower()]),
    (r"\ble\s+(\d{1,2})\b(?!\s*(?:h|:|/|\.\d))", r"on the \1th"),
    (r"\ble\s+(?=\d|first|second|third|fourth|fifth|last|1st)", "on the "),
    (r"\b(?:le|les)\s+(?=monday|tuesday|wednesday|thursday|friday|saturday|sunday)", "on "),
    (r"\bet\s+demie\b", "and a half"),
    (r"\b(?:dans|d'ici)\s+une\s+demi-heure\b|\bdans\s+une\s+demi\s+heure\b", "in half an hour"),
    (r"\btrois\s+quarts?\s+d'heure\b", "45 minutes"),
    (r"\bun\s+quart\s+d'heure\b", "15 minutes"),
    (r"\bquelques\b|\bplusieurs\b", "a few"),
    (rf"\b(?:{_words(_NUMBERS)})\b", lambda m: str(_NUMBERS[m[0].lower()])),

    (r"\b(?:minutes?|mn)\b", "minutes"),
    (r"\bheures?\b", "hours"),
    (r"\bjours?\b", "days"),
    (r"\bsemaines?\b", "weeks"),
    (r"\bmois\b", "months"),
    (r"\b(?:ans|années?)\b", "years"),
    (r"\b(?:dans|d'ici)\b", "in"),
    (r"(?<=\bin )(\d+)\s*h\s*([0-5]\d)\b", r"\1 hours \2 minutes"),
    (r"(?<=\bevery )(\d+)\s*h\b", r"\1 hours"),
    (r"\bhours\s+et\s+quart\b", "hours and 15 minutes"),
    (r"(?<=\d)\s*ans?\b", " years"),
    (r"\bil\s+y\s+a\b", "ago"),
    (r"\bet\b", "and"),
    (r"\bà\b", "at"),
    (r"\b(?:bientôt|plus\s+tard|un\s+de\s+ces\s+jours|un\s+jour)\b", "sometime"),
    (r"\b(?:début|fin|mi)-?\s*(?=december|january|next|this|the|of)", "sometime "),
)  # fmt: skip

LANGUAGE = Language(
    code="fr",
    time_words=words(
        "demain après-demain aujourd'hui matin soir soirée après-midi minuit lundi mardi"
        " mercredi jeudi vendredi samedi dimanche janvier février avril juillet septembre"
        " octobre novembre décembre minutes heures"
    ),
    dangling_after=re.compile(r"^(?:et\s+(?:demie|quart)|prochain)\b|^(?:à|dans|ce)\s*$", re.I),
    dangling_before=re.compile(r"\b(?:ce|cette)$", re.I),
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:rap+el+(?:le|ez)[- ]?(?:moi|nous)\b|me\s+rappeler\b|fais[- ]moi\s+penser\s+à\b"
        r"|pense\s+à\b|moi\b|pile\b|de\b|d['’]"
        r"|que\b|qu['’]|[:,;.!]|-+|–|—)\s*",
        re.I,
    ),
    trail=re.compile(r"\s*(?:\b(?:à|a|le|pour|de|vers|dès|avant)|[:,;(\[-]|–|—)$", re.I),
    examples=(
        "dans 10 minutes · demain à 9h · ce soir à 20h · vendredi à 15h30 · lundi prochain · "
        "le 3 mars · tous les lundis à 9h · tous les jours à 7h · toutes les 2 heures"
    ),
)
