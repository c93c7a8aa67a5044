"""English: the reference table (canonical words are English, so ``canonical`` is short)."""

from __future__ import annotations

import re

from tasks.reminders.when.languages import Language, words
from tasks.reminders.when.rewrite import rules

HOURS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}  # fmt: skip
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9}  # fmt: skip
_MINUTES = {"oh five": 5, "o five": 5, "five": 5, "ten": 10, "eleven": 11, "twelve": 12,
            "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
            "eighteen": 18, "nineteen": 19,
            **{f"{tens} {unit}": base + value
               for tens, base in (("twenty", 20), ("thirty", 30), ("forty", 40), ("fifty", 50))
               for unit, value in _UNITS.items()},
            "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}  # fmt: skip
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9}  # fmt: skip
_HOUR_WORD = "|".join(HOURS)
_MINUTE_WORD = "|".join(sorted((m.replace(" ", "[ -]") for m in _MINUTES), key=len, reverse=True))


def _clock_words(match: re.Match[str]) -> str:
    """``ten thirty`` → ``10:30``; ``three fifteen pm`` → ``3:15 pm``."""
    minute_words = " ".join(match["minute"].lower().replace("-", " ").split())
    return f"{HOURS[match['hour'].lower()]}:{_MINUTES[minute_words]:02d}"


def _compound_ordinal(match: re.Match[str]) -> str:
    """``twenty-fourth`` → ``24th`` (Duckling reads "May twenty-fourth" as an interval)."""
    tens = 20 if match["tens"].lower() == "twenty" else 30
    number = tens + _ORDINALS[match["unit"].lower()]
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _night_hour(match: re.Match[str]) -> str:
    """``11 at night`` → ``11pm``, ``2 at night`` → ``2am``, ``12 at night`` → midnight."""
    hour = int(match["hour"])
    half = "pm" if 6 <= hour <= 11 else "am"
    return f"{match['hour']}{match['minute'] or ''}{half}"


def _day_month(match: re.Match[str]) -> str:
    """``25/12`` cannot be month/day: swap it for Duckling, which reads only month/day."""
    return f"{match['b']}/{match['a']}{match['rest'] or ''}"


NORMALIZE = rules(
    (r"(?<=\d)\s*(?P<half>[ap])\.?\s*m\b\.?", r"\g<half>m"),  # "3:30 p m", "9 a.m"
    (r"(?<=\d)(?P<half>[ap])\b(?!\.?\s*m)", r"\g<half>m"),  # "3:18a"
    (r"\b(?:a|p)\s+m\b", lambda m: m[0].replace(" ", "")),
    (r"\b(?:eom|end\s+of\s+(?:the\s+)?month)\b", "the last day of the month"),
    (r"\bfirst\s+thing(?:\s+in\s+the\s+morning)?\b", "9am"),
    (r"\b(?:the\s+)?week-?ends?\b|\bwkends?\b", "weekend"),
    (r"\bnxt\b", "next"),
    (r"\bweds\b", "wednesday"),
    # weekday abbreviations and common misspellings: full names, so every grammar sees a
    # weekday ("wed at 6pm" is next Wednesday's, not today's); "sat"/"sun" only as days
    (r"\b(?:mon|mondy|monady)\b\.?", "monday"),
    (r"\b(?:tue|tues|tusday|teusday|tuseday|tuesdy)\b\.?", "tuesday"),
    (r"\b(?:wed|wendesday|wensday|wednsday|wedensday|wedneday|wednesdy|wedsday)\b\.?",
     "wednesday"),
    (r"\b(?:thu|thur|thurs|thrusday|thurday|thursdy|thusday)\b\.?", "thursday"),
    (r"\b(?:fri|firday|fridy|frday)\b\.?", "friday"),
    (r"\b(?:saterday|saturaday|satruday|saturdy)\b", "saturday"),
    (r"\bsundy\b", "sunday"),
    (r"\b(?P<w>on|next|this|every|last) sat\b\.?", r"\g<w> saturday"),
    (r"\bsat\b\.?(?=\s*(?:at\b|\d|morning|evening|afternoon|night|:))", "saturday"),
    (r"\b(?P<w>on|next|this|every|last) sun\b\.?", r"\g<w> sunday"),
    (r"\bsun\b\.?(?=\s*(?:at\b|\d|morning|evening|afternoon|night|:))", "sunday"),
    (r"\b(?:evry|everey|evey)\b", "every"),
    (r"\bevery\s+single\s+(?=day|week|month|year|morning|evening|night)", "every "),
    (r"\b(?P<every>every\s+hour|hourly)\s+on\s+the\s+hour\b", r"\g<every>"),
    # "this coming friday", "coming monday": this week's day
    (r"\b(?:this\s+)?coming\s+(?=(?:mon|tues|wednes|thurs|fri|satur|sun)day|week)", "this "),
    (r"\b(?:mornin|mornign|morninng|moring|morming)\b", "morning"),
    (r"\b(?:evenin|evning|evenng|eveing)\b", "evening"),
    (r"\b(?:afternon|aftenoon|afernoon|aftrnoon|arvo)\b", "afternoon"),
    (r"\beveryday\b", "every day"),
    (r"\b12\s+(noon|midnight)\b", r"\1"),
    (r"\b(morning|afternoon|evening|tonight|night)\s+(?=\d{1,2}(?::[0-5]\d)?\b(?!\s*(?:am|pm|"
     r"min|mins|minutes?|hours?|hrs?|days?|weeks?|%|[.,]\d)))", r"\1 at "),
    (r"\b(?:tmrw|tmr|tmrow|tmorrow|tomorow|tommorow|tommorrow|tomorrw|tomoro|2morrow|2moro)\b",
     "tomorrow"),
    (r"\b(?:tonite|2nite|tonigth)\b", "tonight"),
    (r"\b(?:2day|tdy)\b", "today"),
    (r"(?<=\d)\s*(?:wks?)\b", " weeks"),
    (r"\bwks\b", "weeks"),
    (r"\bwk\b", "week"),
    (r"(?<=\d)\s*(?:yrs?)\b", " years"),
    (r"(?<=\d)\s*(?:secs?)\b", " seconds"),
    (r"\b(?:(?:at|by)\s+)?(?:the\s+)?(?:end of (?:the )?(?:work(?:ing)? ?|business )?day|eod|cob"
     r"|close of business|eob)\b", "5pm"),
    (r"\bo'?clock\b", "oclock"),
    (r"\b(?P<hour>1[0-2]|[1-9])(?P<minute>:[0-5]\d)?\s+at\s+night\b", _night_hour),
    (rf"\b(?P<hour>{_HOUR_WORD})[ -](?P<minute>{_MINUTE_WORD})\b(?!\s*(?:min|minutes|hours?)\b)",
     _clock_words),
    (r"\b(?P<tens>twenty|thirty)[ -](?P<unit>first|second|third|fourth|fifth|sixth|seventh"
     r"|eighth|ninth)\b", _compound_ordinal),
    (r"(?<![\d/])(?P<a>1[3-9]|2\d|3[01])/(?P<b>0?[1-9]|1[0-2])(?P<rest>/\d{2,4})?(?![\d/])",
     _day_month),
    (r"(?<![\w:])(?:at|@)\s*(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)\b(?!\s*(?:am|pm|h\b))",
     r"at \g<h>h\g<m>"),
    (r"(?<![\w+])\+\s*(?=\d)", "in "),
    (r"\bhalf\s+(?:an?\s+)?hr\b", "half an hour"),
    (r"\b(?:an?\s+)?half[\s-]hour\b", "30 minutes"),  # "a half hour from now", "every half hour"
    # Duckling reads "lunch" as 12:00-14:00 and would take it out of "tomorrow lunch with Bob".
    (r"(?<!at )(?<!around )(?<!by )(?<!after )(?<!before )\blunch\b", "luncheon"),
)  # fmt: skip

CANONICAL = rules(
    # "the weekly report" is not a repetition ("weekly at 9", "pills daily", "weekly: x" are)
    (r"(?<=.)\b(daily|weekly|monthly|yearly|hourly|nightly)\b(?=\s+(?!(?:at|on|in|from|starting|by|to"
     r"|until|and|remind|morning|afternoon|evening|night|before|after|every)\b)[a-z])",
     r"\1_"),
    (r"(?<=\bin )(\d+)\s*h\s*([0-5]\d)(?:\s*(?:m|mins?|minutes)\b)?", r"\1 hours \2 minutes"),
    (r"\beach\b", "every"),
    (r"\b(?:mid-?day)\b", "noon"),
    (r"\b(?:work(?:ing)?|business)\s*days?\b", "weekday"),
    (r"\bbi-?weekly\b", "fortnightly"),
    (r"\b(?:at|around)\s+lunch(?:time)?\b", "at noon"),
    # Holidays are refused (their days differ by country); beside a real time they are text.
    (r"\b(?:christmas(?:\s+(?:eve|day))?|x-?mas(?:\s+eve)?|new\s+year'?s?(?:\s+(?:eve|day))?"
     r"|nye|easter(?:\s+(?:sunday|monday))?|good\s+friday|thanksgiving(?:\s+day)?|halloween"
     r"|valentine'?s?(?:\s+day)?|(?:mother|father)'?s\s+day|boxing\s+day|hanukk?ah|diwali"
     r"|(?:independence|labou?r|memorial|presidents'?)\s+day|st\.?\s+patrick'?s\s+day)\b",
     "namedholiday"),
)  # fmt: skip

LANGUAGE = Language(
    code="en",
    time_words=words(
        "tomorrow tonight today yesterday morning evening afternoon midnight weekend weekday"
        " monday tuesday wednesday thursday friday saturday sunday january february april"
        " august september october november december minutes o'clock oclock fortnight"
    ),
    dangling_after=re.compile(
        r"^(?:and\s+(?:an?\s+)?(?:half|quarter)|coming)\b|^(?:this|next|at|in)\s*$", re.I
    ),
    dangling_before=re.compile(r"\b(?:this|next|coming)$", re.I),
    day_first=False,
    normalize=NORMALIZE,
    canonical=CANONICAL,
    lead=re.compile(
        r"^(?:(?:please\s+)?remind\s+(?:me|us|everyone|all)\b|me\b|us\b|to\b|that\b|about\b"
        r"|or\s+so\b|ish\b|(?:'s\s+)?time\b(?=\s+to\b)|[:,;.!]|-+|–|—)\s*",
        re.I,
    ),
    trail=re.compile(
        r"\s*(?:\b(?:to|that|about|for|on|at|by|in|from|starting|remind\s+me(?:\s+to)?|and|later"
        r"|around|approximately|sometime)"
        r"|[:,;(\[-]|–|—)$",
        re.I,
    ),
    glue=re.compile(r"^(?:on|at|by|in|from|starting)$", re.I),
    examples=(
        "in 10 minutes · tomorrow at 9 · tonight at 11 · friday 15:30 · next week · "
        "march 3 at 5pm · 2026-12-24 18:00 · every weekday at 9 · every monday at 9am · "
        "daily at 7 · every 2 hours · every first of the month"
    ),
)
