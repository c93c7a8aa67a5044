"""Facebook's Duckling, loaded once and lazily, behind one small function.

Duckling is a Haskell library; ``pyduckling-native-phihos`` ships it as a wheel for
x86_64 Linux only. Elsewhere :func:`available` is False and the parser falls back to
its own grammar.

Duckling runs in one worker process, started on the first parse (about a second:
the Haskell runtime and the zone database) and asked one phrase at a time under a
lock (the bot parses from several threads). A process, not a thread, because
Duckling's parser is exponential in runs of adjacent time words and a native call
cannot be interrupted: a phrase that takes longer than :data:`PARSE_SECONDS` is
refused and the worker is killed and replaced, so no message can stall the bot.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import UsageError

#: Languages Duckling has time rules for (ISO 639-1, lower case); others get English rules.
DUCKLING_LANGUAGES = frozenset((
    "af", "ar", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr",
    "ga", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "ka", "km", "kn", "ko", "lo", "ml",
    "mn", "my", "nb", "ne", "nl", "pl", "pt", "ro", "ru", "sk", "sv", "sw", "ta", "te", "th",
    "tr", "uk", "vi", "zh",
))  # fmt: skip

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
    if "module" in _state:  # decided already (or forced off, as a test does)
        return _state["module"] is not None
    found = importlib.util.find_spec("duckling") is not None
    _state["module"] = "duckling" if found else None
    return found


class TooHard(UsageError):
    """Duckling did not finish in :data:`PARSE_SECONDS`: the phrase is refused, not waited on."""


#: The longest Duckling may take on one phrase. Its parser is exponential in runs of
#: adjacent time words ("tomorrow at 9" eight times in a row took seconds, sixteen
#: minutes), which a chat can send on purpose; everyday phrases take 1-10 ms. So it
#: runs in a worker process that is killed and replaced when a phrase takes longer.
PARSE_SECONDS = 2.0
#: How long the worker may take to start (import Duckling and load the zone database).
START_SECONDS = 60.0


def entities(text: str, language: str, now: datetime, zone: str) -> list[Entity]:
    """Times and durations Duckling finds in ``text`` said at ``now`` by someone in ``zone``."""
    code = language if language in DUCKLING_LANGUAGES else "en"
    # The Rust binding panics on NUL (it builds a C string) and cannot encode a lone
    # surrogate; a space in their place keeps every offset.
    safe = _hide_word_zones(_UNENCODABLE.sub(" ", text))
    found = _WORKER.parse(safe, code, int(now.timestamp()), zone)
    return [
        Entity(int(e["start"]), int(e["end"]), str(e["dim"]), e["value"], bool(e.get("latent")))
        for e in found
    ]


class _Worker:
    """One Duckling process, started on first use, asked one phrase at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None

    def parse(self, text: str, code: str, timestamp: int, zone: str) -> list[dict[str, Any]]:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._conn.send((text, code, timestamp, zone))
            if not self._conn.poll(PARSE_SECONDS):
                self._stop()
                raise TooHard(
                    "That has too many times in a row for me to read; give one time, for "
                    "example: tomorrow at 9."
                )
            answer = self._conn.recv()
        if isinstance(answer, str):
            raise RuntimeError(f"Duckling failed: {answer}")
        return answer

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a live Haskell runtime
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs,), name="seqbot-duckling")
        process.daemon = True
        process.start()
        theirs.close()
        if not ours.poll(START_SECONDS):
            process.kill()
            raise RuntimeError("Duckling did not start")
        ours.recv()
        self._process, self._conn = process, ours

    def _stop(self) -> None:
        self._process.kill()
        self._process.join(5)
        self._conn.close()
        self._process = self._conn = None


def _serve(conn: Any) -> None:
    """The worker: load Duckling once, then answer phrases until the pipe closes."""
    import duckling  # starts the Haskell runtime on import

    zones = duckling.load_time_zones(str(_zoneinfo_dir()))
    dimensions = duckling.parse_dimensions(["time", "duration"])
    conn.send("ready")
    while True:
        try:
            text, code, timestamp, zone = conn.recv()
        except (EOFError, OSError):
            return
        try:
            ref = duckling.parse_ref_time(zones, zone, timestamp)
            locale = duckling.default_locale_lang(duckling.parse_lang(code.upper()))
            found = duckling.parse(text, duckling.Context(ref, locale), dimensions, False)
            conn.send([dict(e) for e in found])
        except BaseException as exc:  # a Rust panic is a BaseException; report, keep serving
            conn.send(f"{type(exc).__name__}: {exc}")


_WORKER = _Worker()


def _zoneinfo_dir() -> Path:
    """The system's zone database, or the ``tzdata`` package's copy where there is none."""
    system = Path("/usr/share/zoneinfo")
    if (system / "Europe").is_dir():
        return system
    import tzdata

    return Path(tzdata.__file__).parent / "zoneinfo"
