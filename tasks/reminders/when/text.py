"""The reminder text: the user's words once the time is taken out, and a check that
nothing that looks like a time was left behind in them.

A time word left in the text means the phrase was read only in part ("tomorrow call
Anna at 5pm" read as "tomorrow", 09:00): saving it would be a silent misread, so such
phrases are refused with a reply that shows what was left over.
"""

from __future__ import annotations

import re

from bot.errors import UsageError
from tasks.reminders.when.languages import foreign_time_words
from tasks.reminders.when.phrase import Phrase, Span

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_WEEKDAYS = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?s?"
#: Canonical time words that must not survive in the reminder text.
LEFTOVER_TIME = re.compile(
    r"(?<![\w])(?:\d{1,2}(?:[:.h]\d\d)?\s*(?:am|pm|a\.m\.?|p\.m\.?)(?!\w)"
    r"|\d{1,2}[:h][0-5]\d(?!\d)"
    r"|at\s+\d{1,4}(?![\d%])"
    r"|(?:tomorrow|tonight|today|yesterday|noon|midnight)\b"
    r"|(?:next|this|last|every)\s+(?:week|month|year|weekend|weekday|" + _WEEKDAYS + r")\b"
    r"|(?:in|within|after)\s+\d+\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
    r"|(?:on\s+)?" + _WEEKDAYS + r"\s+(?:at|morning|afternoon|evening|night)\b"
    r"|" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?\b(?!\s*(?:kg|%|€|\$))"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r"\b"
    r"|\d{4}-\d{2}-\d{2})",
    re.I,
)


_NUMBER_AFTER = re.compile(r"^\s*[:h.]?\d{1,2}(?:[:.]\d\d)?(?![\d%])")
_NUMBER_BEFORE = re.compile(r"(?<![\d.,])\d{1,2}(?:[:.]\d\d)?\s*$")


#: Greetings and politeness before the request, in any language ("hey bot,", "pls", "bitte",
#: "s'il te plaît", "por favor", "пожалуйста", "麻烦"): not part of the reminder text.
_COURTESY = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|yo|oye|eh|salut|hallo|hola|привет|эй|嘿|喂)\b"
    r"(?:\s+(?:le\s+)?(?:bot|seqbot|бот)\b)?|please\b|pl[sz]\b|bitte\b|stp\b|svp\b"
    r"|s'il\s+(?:te|vous)\s+pla[iî]t\b|porfa(?:vor)?\b|por\s+favor\b|xfa\b"
    r"|пожалуйста\b|плиз\b|пжлст\b|麻烦|拜托)\s*[,!:：，、]?\s*",
    re.I,
)


def check_leftovers(phrase: Phrase, spans: list[Span]) -> None:
    """Refuse when the text outside ``spans`` still holds a time word, or a number right
    next to the time ("tomorrow evening 6": the 6 was not read)."""
    rest = phrase.canonical_outside(spans)
    found = LEFTOVER_TIME.search(rest)
    for start, end in _merged(phrase.original, spans):
        found = found or _NUMBER_AFTER.search(phrase.original[end:])
        found = found or _NUMBER_BEFORE.search(phrase.original[:start])
    if found is not None:
        raise UsageError(
            f"I read the time from part of your message only; “{found[0].strip()}” was left "
            "over. Put the whole time together, for example: tomorrow at 17:00 call Anna."
        )


_FIRST_WORD = re.compile(r"^[\s,:;.!-]*(?P<word>[^\W\d_][\w'-]*)")
_LAST_WORD = re.compile(r"(?P<word>[^\W\d_][\w'-]*)[\s,:;.!-]*$")
#: Shorter words are too often real words one letter from a time word ("light" and "night",
#: "abrir" and "abril", "Martin" and "matin"): typed words of 5 letters or more are compared
#: with time words of 6 or more.
_NEAR_MISS_LENGTH = 5
_TIME_WORD_LENGTH = 6


def check_edges(phrase: Phrase, spans: list[Span]) -> None:
    """Refuse when the reminder text right beside the time starts or ends with a misspelt
    time word ("tomorrow mornin move the car") or with words that belong to the time ("in an
    hour and a quarter"): the time was read in part, and saving it would be a silent misread."""
    language = phrase.language
    if not language.spaced:
        return
    for index, (piece, runs_into_time) in enumerate(_pieces(phrase, spans)):
        text = _clean(piece, phrase, runs_into_time, opening=index == 0)
        edge = None
        if index > 0:  # the text after a time
            edge = _near_miss(_FIRST_WORD.match(text), language.time_words)
            if edge is None and (found := language.dangling_after.match(text)):
                edge = found[0] or text
        if edge is None and runs_into_time and text:  # the text before a time
            edge = _near_miss(_LAST_WORD.search(text), language.time_words)
            found = language.dangling_before.search(text)
            if edge is None and found and _DAY_WORD.match(_following(phrase, spans, piece)):
                edge = found[0]
        foreign = _foreign_time_word(text, phrase, after=index > 0, before=runs_into_time)
        if edge is None and foreign is not None:
            raise UsageError(
                f"“{foreign}” looks like a time word of another language, and I read your "
                "message by the rules of yours; set your language with /settings language, or "
                "write the time out in full, for example: tomorrow at 9 call Anna."
            )
        if edge is not None:
            raise UsageError(
                f"I couldn't read “{edge.strip()}” beside the time. Write the time out in full, "
                "for example: tomorrow at 9 call Anna."
            )


def _foreign_time_word(text: str, phrase: Phrase, *, after: bool, before: bool) -> str | None:
    """A time word of another language within two words of the time ("demain à 9h" read
    with English rules finds only "9h"), or None."""
    foreign = foreign_time_words(phrase.language.code)
    words = re.findall(r"[^\W\d_][\w'-]*", text)
    near = (words[:2] if after else []) + (words[-2:] if before else [])
    return next((word for word in near if word.lower() in foreign), None)


#: A time that opens with a day, a month or a part of the day ("this" + "coming friday").
_DAY_WORD = re.compile(
    r"(?:(?:on|next|this)\s+)?(?:"
    + _WEEKDAYS
    + r"|"
    + _MONTHS
    + r"|week|weekend|morning|afternoon|evening"
    r"|night)\b",
    re.I,
)


def _following(phrase: Phrase, spans: list[Span], piece: str) -> str:
    """The canonical words of the time that comes right after ``piece``."""
    for start, end in sorted(spans):
        if phrase.original[:start].rstrip().endswith(piece.rstrip()):
            return phrase.canonical_in((start, end))
    return ""


def _pieces(phrase: Phrase, spans: list[Span]) -> list[tuple[str, bool]]:
    """The text around ``spans``, each piece with whether a time follows it."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in sorted(spans):
        if start >= position:
            pieces.append((phrase.original[position:start], True))
        position = max(position, end)
    pieces.append((phrase.original[position:], False))
    return pieces


def _near_miss(match: re.Match[str] | None, time_words: frozenset[str]) -> str | None:
    """The matched word when it is one letter away from a time word (and is not one)."""
    if match is None:
        return None
    word = match["word"].lower()
    if len(word) < _NEAR_MISS_LENGTH or word in time_words or word.rstrip("s") in time_words:
        return None
    return match["word"] if any(_one_edit(word, known) for known in time_words) else None


def _one_edit(word: str, known: str) -> bool:
    """Whether one letter added, dropped, changed or two swapped make ``word`` into ``known``."""
    if abs(len(word) - len(known)) > 1 or len(known) < _TIME_WORD_LENGTH:
        return False
    if len(word) == len(known):
        diff = [i for i, (a, b) in enumerate(zip(word, known, strict=True)) if a != b]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == known[diff[1]] \
            and word[diff[1]] == known[diff[0]]  # fmt: skip
        return len(diff) == 1 or swapped
    short, long = sorted((word, known), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _merged(text: str, spans: list[Span]) -> list[Span]:
    """``spans`` with those only blanks apart joined ("8:00" + "PST")."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and not text[merged[-1][1] : start].strip(" ,()"):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def reminder_text(phrase: Phrase, spans: list[Span]) -> str:
    """The user's words around ``spans``, without the fillers of their language.

    Lead words ("remind me to", "to", "that", ":") go from the start of every piece;
    glue ("on", "at", "by") only from the end of a piece that runs into the time, so
    "put the kettle on in 5 minutes" keeps its "on".
    """
    cleaned = [
        _clean(piece, phrase, runs_into_time, opening=index == 0)
        for index, (piece, runs_into_time) in enumerate(_pieces(phrase, spans))
    ]
    joiner = " " if phrase.language.spaced else ""
    return joiner.join(piece for piece in cleaned if piece).strip()


def _clean(piece: str, phrase: Phrase, runs_into_time: bool, *, opening: bool) -> str:
    """One piece of text without its fillers; greetings only open the message."""
    language = phrase.language
    piece = piece.strip()
    while True:
        stripped = _COURTESY.sub("", piece, count=1).strip() if opening else piece
        stripped = language.lead.sub("", stripped, count=1).strip()
        if runs_into_time:
            stripped = language.trail.sub("", stripped, count=1).strip()
        if stripped == piece:
            return piece
        piece = stripped
