"""Facebook's Duckling, loaded once and lazily, behind one small function.

Duckling is a Haskell library; ``pyduckling-native-phihos`` ships it as a wheel for
x86_64 Linux only. Elsewhere :func:`available` is False and the parser falls back to
its own grammar. Loading the time-zone database takes about 0.1 s, so it happens on
the first parse, once per process, under a lock (the bot parses from several threads).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: Languages Duckling has time rules for (ISO 639-1, lower case); others get English rules.
DUCKLING_LANGUAGES = frozenset((
    "af", "ar", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr",
    "ga", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "ka", "km", "kn", "ko", "lo", "ml",
    "mn", "my", "nb", "ne", "nl", "pl", "pt", "ro", "ru", "sk", "sv", "sw", "ta", "te", "th",
    "tr", "uk", "vi", "zh",
))  # fmt: skip

_lock = threading.Lock()
_UNENCODABLE = re.compile("[\0\ud800-\udfff]")
#: Zone abbreviations Duckling converts on its own, case-insensitively. Many are everyday
#: words ("6pm eat dinner" would move the time by East Africa's offset, "10am vet" by
#: Venezuela's, German "um 9 ist Meeting" by India's), so one typed in lower or mixed case
#: is hidden from Duckling unless it is a widely used, unambiguous one. Written in capitals
#: ("6pm EAT") it is a deliberate zone. Zones we resolve ourselves (:mod:`.zones`) are
#: taken out of the phrase before Duckling sees it.
_DUCKLING_ZONES = re.compile(
    r"(?<![\w/])(?:yekt|yekst|yakt|yakst|wita|wit|wib|wgt|wgst|wft|wet|west|wat|wast|vut|vlat"
    r"|vlast|vet|uzt|uyt|uyst|utc|ulat|tvt|tmt|tlt|tkt|tjt|tft|taht|sst|srt|sgt|sct|sbt|sast"
    r"|samt|ret|pyt|pyst|pwt|pst|pont|pmst|pmdt|pkt|pht|phot|pgt|pett|petst|pet|pdt|omst"
    r"|omsst|nzst|nzdt|nut|nst|npt|novt|novst|nft|ndt|nct|myt|mvt|mut|mst|msk|msd|mmt|mht"
    r"|mdt|mawt|mart|magt|magst|lint|lhst|lhdt|kuyt|kst|krat|krast|kgt|jst|ist|irst|irkt"
    r"|irkst|irdt|iot|idt|ict|hovt|hkt|gyt|gst|gmt|gilt|gft|get|gamt|galt|fnt|fkt|fkst|fjt"
    r"|fjst|est|egt|egst|eet|eest|edt|ect|eat|east|easst|davt|chst|cxt|cvt|cst|cot|clt|clst"
    r"|ckt|chast|chadt|cet|cest|cdt|cct|cat|cast|btt|bst|brt|brst|bot|bnt|azt|azst|azot"
    r"|azost|awst|awdt|ast|art|aqtt|anat|anast|amt|amst|almt|akst|akdt|aft|aest|aedt|adt"
    r"|acst|acdt)(?![\w/])",
    re.IGNORECASE,
)
_LOWERCASE_ZONES_KEPT = frozenset({
    "utc", "gmt", "pst", "pdt", "mst", "mdt", "cst", "cdt", "edt", "akst", "akdt", "cet",
    "cest", "eet", "eest", "msk", "jst", "kst", "hkt", "sgt", "aest", "aedt", "awst", "acst",
    "nzst", "nzdt",
})  # fmt: skip


def _hide_word_zones(text: str) -> str:
    """``text`` with zone abbreviations that are probably words blanked (same length)."""

    def blank(match: re.Match[str]) -> str:
        word = match.group()
        if word.isupper() or word.lower() in _LOWERCASE_ZONES_KEPT:
            return word
        return " " * len(word)

    return _DUCKLING_ZONES.sub(blank, text)


_state: dict[str, Any] = {}


@dataclass(frozen=True)
class Entity:
    """One thing Duckling found: where it is in the text it was given, and its value.

    ``value`` is Duckling's own dict ({"type": "value", "value": iso, "grain", "values"}
    or {"type": "interval", "from", "to"}; for durations {"value", "unit", ...}).
    """

    start: int
    end: int
    dim: str
    value: dict[str, Any]
    latent: bool

    @property
    def is_interval(self) -> bool:
        return self.value.get("type") == "interval"

    @property
    def grain(self) -> str:
        return str(self.value.get("grain", ""))

    @property
    def first(self) -> datetime | None:
        """Duckling's reading of a time value, as naive wall-clock time in the user's zone."""
        if "value" in self.value and isinstance(self.value["value"], str):
            return _wall(self.value["value"])
        return None

    def walls(self) -> list[datetime]:
        """Every reading Duckling offers for a time value ("at 3": 15:00, 03:00, ...)."""
        found = [_wall(v["value"]) for v in self.value.get("values", [])
                 if v.get("type") == "value"]  # fmt: skip
        first = self.first
        return found or ([first] if first else [])

    def bound(self, side: str) -> datetime | None:
        """``from`` or ``to`` of an interval, as naive wall-clock time."""
        part = self.value.get(side)
        return _wall(part["value"]) if part else None


def _wall(iso: str) -> datetime:
    """The wall-clock part of Duckling's answer. Duckling writes every value in the
    reference zone (an explicit "8:00 PST" is converted into it), but it gives a time
    that a DST change skips the offset after the change ("02:30+02:00" on the night
    clocks go from 02:00 to 03:00), so the offset is dropped and the wall-clock time
    is localized by :func:`.phrase.localize` like every other."""
    return datetime.fromisoformat(iso).replace(tzinfo=None)


def available() -> bool:
    """Whether Duckling can be used here (it is a Linux x86_64 wheel)."""
    return _load() is not None


def entities(text: str, language: str, now: datetime, zone: str) -> list[Entity]:
    """Times and durations Duckling finds in ``text`` said at ``now`` by someone in ``zone``."""
    module = _load()
    if module is None:  # pragma: no cover - callers check available() first
        raise RuntimeError("Duckling is not installed")
    code = language if language in DUCKLING_LANGUAGES else "en"
    ref = module.parse_ref_time(_state["zones"], zone, int(now.timestamp()))
    context = module.Context(ref, module.default_locale_lang(module.parse_lang(code.upper())))
    # The Rust binding panics on NUL (it builds a C string) and cannot encode a lone
    # surrogate; a space in their place keeps every offset.
    safe = _hide_word_zones(_UNENCODABLE.sub(" ", text))
    found = module.parse(safe, context, _state["dimensions"], False)
    return [
        Entity(int(e["start"]), int(e["end"]), str(e["dim"]), e["value"], bool(e.get("latent")))
        for e in found
    ]


def _load() -> Any | None:
    """Import Duckling and its zone database once; None when it cannot be imported."""
    if "module" in _state:
        return _state["module"]
    with _lock:
        if "module" not in _state:
            try:
                import duckling  # starts the Haskell runtime on import
            except ImportError:
                _state["module"] = None
                return None
            _state["zones"] = duckling.load_time_zones(str(_zoneinfo_dir()))
            _state["dimensions"] = duckling.parse_dimensions(["time", "duration"])
            _state["module"] = duckling
    return _state["module"]


def _zoneinfo_dir() -> Path:
    """The system's zone database, or the ``tzdata`` package's copy where there is none."""
    system = Path("/usr/share/zoneinfo")
    if (system / "Europe").is_dir():
        return system
    import tzdata

    return Path(tzdata.__file__).parent / "zoneinfo"
