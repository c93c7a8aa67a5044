"""A clock time said in another zone: "Thursday 8:00 PST", "18:00 UTC+3", "3pm London time".

Duckling converts zone abbreviations itself, but keeps the date when the conversion
crosses midnight ("monday 5pm PST" came out as Monday 02:00 in Berlin, not Tuesday),
and knows no offsets or cities. So the zone is found here and taken out of the
phrase; the rest is read with the clock and calendar of that zone ("tomorrow" is
tomorrow there), and the result is converted to an instant.

A clock time with a zone is 24-hour time ("9:00 CET" is 09:00 CET); see
:data:`.phrase.COMMON`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Abbreviations as tz database zones: a fixed offset when the abbreviation names one
#: (PST is UTC-8 all year), the region's zone when it does not (PT).
ABBREVIATIONS = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "wet": "UTC",
    "pst": "Etc/GMT+8", "pdt": "Etc/GMT+7", "pt": "America/Los_Angeles",
    "mst": "Etc/GMT+7", "mdt": "Etc/GMT+6", "mt": "America/Denver",
    "cst": "Etc/GMT+6", "cdt": "Etc/GMT+5", "ct": "America/Chicago",
    "est": "Etc/GMT+5", "edt": "Etc/GMT+4", "et": "America/New_York",
    "akst": "Etc/GMT+9", "akdt": "Etc/GMT+8", "hst": "Pacific/Honolulu",
    "bst": "Etc/GMT-1", "west": "Etc/GMT-1", "cet": "Etc/GMT-1", "cest": "Etc/GMT-2",
    "mez": "Etc/GMT-1", "mesz": "Etc/GMT-2",
    "eet": "Etc/GMT-2", "eest": "Etc/GMT-3", "msk": "Europe/Moscow", "ist": "Asia/Kolkata",
    "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong", "jst": "Asia/Tokyo", "kst": "Asia/Seoul",
    "awst": "Australia/Perth", "acst": "Australia/Darwin", "aest": "Etc/GMT-10",
    "aedt": "Etc/GMT-11", "nzst": "Etc/GMT-12", "nzdt": "Etc/GMT-13",
}  # fmt: skip
#: Cities people name instead of a zone ("3pm London time").
CITIES = {
    "london": "Europe/London", "dublin": "Europe/Dublin", "lisbon": "Europe/Lisbon",
    "paris": "Europe/Paris", "berlin": "Europe/Berlin", "madrid": "Europe/Madrid",
    "rome": "Europe/Rome", "amsterdam": "Europe/Amsterdam", "zurich": "Europe/Zurich",
    "vienna": "Europe/Vienna", "warsaw": "Europe/Warsaw", "stockholm": "Europe/Stockholm",
    "helsinki": "Europe/Helsinki", "athens": "Europe/Athens", "istanbul": "Europe/Istanbul",
    "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv", "moscow": "Europe/Moscow",
    "new york": "America/New_York", "nyc": "America/New_York", "boston": "America/New_York",
    "toronto": "America/Toronto", "chicago": "America/Chicago", "denver": "America/Denver",
    "los angeles": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "vancouver": "America/Vancouver", "mexico city": "America/Mexico_City",
    "sao paulo": "America/Sao_Paulo", "buenos aires": "America/Argentina/Buenos_Aires",
    "dubai": "Asia/Dubai", "delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata", "india": "Asia/Kolkata", "singapore": "Asia/Singapore",
    "hong kong": "Asia/Hong_Kong", "beijing": "Asia/Shanghai", "shanghai": "Asia/Shanghai",
    "tokyo": "Asia/Tokyo", "seoul": "Asia/Seoul", "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne", "auckland": "Pacific/Auckland",
    "londres": "Europe/London", "montréal": "America/Toronto", "montreal": "America/Toronto",
    "moscou": "Europe/Moscow", "pékin": "Asia/Shanghai", "nueva york": "America/New_York",
    "moscú": "Europe/Moscow", "tokio": "Asia/Tokyo", "ciudad de méxico": "America/Mexico_City",
    "lima": "America/Lima", "bogotá": "America/Bogota", "santiago": "America/Santiago", "киев": "Europe/Kyiv",
    "берлин": "Europe/Berlin", "париж": "Europe/Paris", "токио": "Asia/Tokyo",
    "canarias": "Atlantic/Canary", "лондон": "Europe/London", "москв": "Europe/Moscow",
    "нью-йорк": "America/New_York", "екатеринбург": "Asia/Yekaterinburg",
    "новосибирск": "Asia/Novosibirsk", "владивосток": "Asia/Vladivostok",
    "калининград": "Europe/Kaliningrad", "伦敦": "Europe/London", "纽约": "America/New_York",
    "东京": "Asia/Tokyo", "北京": "Asia/Shanghai", "巴黎": "Europe/Paris", "柏林": "Europe/Berlin",
    "香港": "Asia/Hong_Kong", "上海": "Asia/Shanghai", "台北": "Asia/Taipei", "新加坡": "Asia/Singapore",
    "美东": "America/New_York", "美国东部": "America/New_York", "美西": "America/Los_Angeles",
    "太平洋": "America/Los_Angeles", "美国西部": "America/Los_Angeles", "莫斯科": "Europe/Moscow",
    "印度": "Asia/Kolkata", "首尔": "Asia/Seoul", "悉尼": "Australia/Sydney", "迪拜": "Asia/Dubai",
    "méxico": "America/Mexico_City", "mexico": "America/Mexico_City", "canaria": "Atlantic/Canary",
}  # fmt: skip
_ABBREVIATION = "|".join(sorted((a for a in ABBREVIATIONS if a not in ("utc", "gmt")),
                                key=len, reverse=True))  # fmt: skip
_CITY = "|".join(sorted((re.escape(c) for c in CITIES), key=len, reverse=True))
#: What may name a zone right after a clock time.
#: Abbreviations are matched in capitals only ("10h et quart" is not Eastern Time), UTC
#: and GMT in any case; cities with the word for "time" of several languages.
ZONE = (
    rf"(?:(?P<abbr>(?-i:{_ABBREVIATION.upper()}))\b|(?P<universal>utc|gmt)\b(?!\s*[+-−]\s*\d)"
    rf"|(?:utc|gmt)\s*(?P<sign>[+-−])\s*(?P<oh>\d{{1,2}})(?::?(?P<om>[0-5]\d))?\b"
    rf"|(?P<city>{_CITY})\s+time\b|(?:heure|hora)\s+(?:de|d'|del?)\s*(?P<city2>{_CITY})\b"
    rf"|по\s+(?P<city5>{_CITY})\w*\s+времени|по\s+(?P<city3>{_CITY})\w*|(?P<city4>{_CITY})时间"
    r"|по\s+(?P<universal2>utc|gmt|гринвичу)\b|по\s+(?P<moscow>московскому)\s+времени"
    r"|(?:по\s+)?(?P<msk>мск)\b"
    rf"|(?P<city6>{_CITY})(?:er)?\s+zeit\b"
    rf"|hora\s+(?P<city7>{_CITY})\b"
    r"|(?:in\s+)?(?P<iana>[A-Z][A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?))"
)
_CLOCK = (
    r"(?:\d{1,2}(?:[:h.][0-5]\d)?\s*(?:am|pm|a\.m\.|p\.m\.|uhr|h|heures?|horas?|часов|час|点)?"
    r"|noon|midnight)"
)
_MENTION = re.compile(rf"(?<=[\w.])\s*(?P<mention>\(?{ZONE}\)?)(?![a-z0-9+-])", re.I)
#: A clock time, maybe with its part of the day ("a las 10 de la noche UTC").
_AFTER_CLOCK = re.compile(
    rf"{_CLOCK}(?:\s+(?:de|del|la|in|the|du|morning|mañana|tarde|noche|evening|afternoon|night"
    r"|soir|matin|утра|вечера|дня|ночи)){0,3}\s*$",
    re.I,
)


@dataclass(frozen=True)
class Mention:
    """A zone named in the phrase, and where (in the normalized text)."""

    zone: str
    start: int
    end: int


#: Chinese names the zone before the time: "北京时间上午9点", "UTC时间明天9点", "东八区".
_BEFORE_TIME = re.compile(
    rf"(?P<mention>(?P<city>{_CITY})时间|(?P<east8>东八区)(?:时间)?"
    r"|(?P<universal>utc|gmt)(?:时间)?(?=\s*[\d明今后下上周星礼早晚中凌]))",
    re.I,
)


def find(text: str) -> Mention | None:
    """The zone named right after a clock time in ``text``, if any.

    Raises LookupError for a zone that cannot be used (an offset the tz database lacks).
    """
    for match in _MENTION.finditer(text):
        if not _AFTER_CLOCK.search(text[: match.start()]):
            continue
        zone = _zone(match)
        return Mention(zone, match.start("mention"), match.end("mention"))
    before = _BEFORE_TIME.search(text)
    if before is not None:
        if before["east8"]:
            zone = "Etc/GMT-8"
        elif before["city"]:
            zone = CITIES[_city_key(before["city"])]
        else:
            zone = "UTC"
        return Mention(zone, before.start("mention"), before.end("mention"))
    return None


def _city_key(name: str) -> str:
    key = " ".join(name.lower().split())
    if key in CITIES:
        return key
    return next(c for c in CITIES if key.startswith(c))  # "по москве": an inflected Москва


def _zone(match: re.Match[str]) -> str:
    if match["abbr"] or match["universal"]:
        return ABBREVIATIONS[(match["abbr"] or match["universal"]).lower()]
    if match["universal2"]:
        return "UTC"
    if match["moscow"] or match["msk"]:
        return "Europe/Moscow"
    city = next((match[g] for g in ("city", "city2", "city3", "city4", "city5", "city6", "city7")
                 if match[g]), None)  # fmt: skip
    if city:
        return CITIES[_city_key(city)]
    if match["iana"]:
        name = match["iana"]
    else:
        hours, minutes = int(match["oh"]), int(match["om"] or 0)
        if minutes or hours > 14:
            raise LookupError("offset")
        # The tz database's Etc zones count the other way round: UTC+3 is Etc/GMT-3.
        name = "UTC" if hours == 0 else f"Etc/GMT{'-' if match['sign'] == '+' else '+'}{hours}"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LookupError(name) from exc
    return name
