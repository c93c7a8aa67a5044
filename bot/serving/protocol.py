"""The engine's HTTP protocol: what a remote engine is asked and how it answers.

One module for both sides, so the Ray Serve replica (:mod:`bot.serving.deployment`)
and the client the bot uses (:mod:`bot.serving.client`) cannot drift apart. Kept free
of torch and of Ray: the client imports it in a bot worker that loads no model.

Routes, under the application's prefix (``/seqbot``)::

    GET  /info        model name, limits, language codes, stats, tokenizer files' digest
    GET  /stats       Engine.stats()
    GET  /tokenizer   the tokenizer files (base64), so the client counts tokens locally
    POST /generate    {"texts": [...], "options": {...}}         -> {"results": [...]}
    POST /score       {"source": ..., "candidates": [...], ...}  -> {"scores": [...]}

Errors are JSON ``{"error": kind, "message": text}``. The kinds map back to the
engine's exceptions on the client, so a task sees exactly what it would see from an
in-process engine: ``busy`` (503) is :class:`EngineBusy`, ``timeout`` (504)
:class:`EngineTimeout`, ``closed`` (503) :class:`EngineClosed`, ``invalid`` (400) a
``ValueError`` raised in the caller, ``engine`` (500) :class:`EngineError`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.engine.errors import EngineBusy, EngineClosed, EngineError, EngineTimeout
from bot.engine.options import GenerationOptions, GenerationResult, ScoreResult

if TYPE_CHECKING:
    from bot.engine.engine import Engine

log = logging.getLogger(__name__)

APP_NAME = "seqbot-engine"
ROUTE_PREFIX = "/seqbot"
#: Checkpoint files a client never needs: the weights. Everything else in the model
#: directory is small (tokenizer, configs) and is what ``load_tokenizer`` reads.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".ot")
MAX_TOKENIZER_FILE = 64 << 20

_OPTION_FIELDS = {f.name: f for f in dataclasses.fields(GenerationOptions)}


class ProtocolError(ValueError):
    """A request body that is not what the protocol says; answered with 400."""


# -- values ------------------------------------------------------------------------------


def options_to_json(options: GenerationOptions | None) -> dict[str, Any] | None:
    """Only the fields that differ from the defaults, so old servers ignore nothing new."""
    if options is None:
        return None
    default = GenerationOptions()
    return {
        name: getattr(options, name)
        for name in _OPTION_FIELDS
        if getattr(options, name) != getattr(default, name)
    }


def options_from_json(value: object) -> GenerationOptions | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ProtocolError("options must be an object")
    unknown = sorted(set(value) - set(_OPTION_FIELDS))
    if unknown:
        raise ProtocolError(f"unknown generation option {unknown[0]!r}")
    for name, given in value.items():
        _check_type(name, given, GenerationOptions.__annotations__[name])
    return GenerationOptions(**value)


def _check_type(name: str, value: object, annotation: str) -> None:
    """The JSON types the option fields take; bool is not an int here (JSON keeps them apart)."""
    kinds: dict[str, tuple[type, ...]] = {
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
        "str | None": (str, type(None)),
        "int | None": (int, type(None)),
    }
    allowed = kinds.get(annotation, (object,))
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ProtocolError(f"option {name} has the wrong type")


def result_to_json(result: GenerationResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def result_from_json(value: Mapping[str, Any]) -> GenerationResult:
    return GenerationResult(
        text=str(value["text"]),
        token_ids=[int(t) for t in value["token_ids"]],
        truncated=bool(value["truncated"]),
        finish_reason=value["finish_reason"],
    )


def score_to_json(score: ScoreResult) -> dict[str, Any]:
    return dataclasses.asdict(score)


def score_from_json(value: Mapping[str, Any]) -> ScoreResult:
    return ScoreResult(
        total=float(value["total"]), token_logprobs=[float(v) for v in value["token_logprobs"]]
    )


# -- errors ------------------------------------------------------------------------------

#: kind -> (HTTP status, exception class on the client side); order: most specific first.
ERRORS: dict[str, tuple[int, type[Exception]]] = {
    "timeout": (504, EngineTimeout),
    "closed": (503, EngineClosed),
    "busy": (503, EngineBusy),
    "invalid": (400, ValueError),
    "engine": (500, EngineError),
}


def error_body(exc: BaseException) -> tuple[int, dict[str, str]]:
    """The status and body that carry ``exc`` to the client."""
    for kind, (status, cls) in ERRORS.items():
        if isinstance(exc, cls):
            return status, {"error": kind, "message": str(exc)}
    return 500, {"error": "engine", "message": f"{type(exc).__name__} in the engine replica"}


def error_from_body(status: int, body: object) -> Exception:
    """The engine exception a JSON error body stands for (``EngineError`` if unreadable)."""
    if isinstance(body, Mapping) and body.get("error") in ERRORS:
        cls = ERRORS[str(body["error"])][1]
        message = str(body.get("message") or "")
        return cls(message) if message else cls()
    return EngineError(f"the remote engine answered HTTP {status}")


# -- the server side ---------------------------------------------------------------------


def tokenizer_files(directory: Path) -> dict[str, bytes]:
    """The model directory's files minus the weights: what ``load_tokenizer`` may read."""
    files = {}
    for path in sorted(directory.iterdir()):
        small = path.is_file() and path.stat().st_size <= MAX_TOKENIZER_FILE
        if small and not path.name.endswith(WEIGHT_SUFFIXES):
            files[path.name] = path.read_bytes()
    return files


def files_digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


class EngineEndpoint:
    """Answers protocol requests with one loaded :class:`Engine`; no HTTP framework inside.

    A Ray Serve replica wraps one; so can any other server (the tests use aiohttp).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._files = tokenizer_files(Path(engine.directory))
        self._digest = files_digest(self._files)

    def info(self) -> dict[str, Any]:
        engine = self.engine
        return {
            "model": engine.name,
            "family": engine.model.info.family,
            "eos_token_id": engine.model.info.eos_token_id,
            "max_source_tokens": engine.max_source_tokens,
            "max_target_tokens": engine.max_target_tokens,
            "languages": sorted(engine.languages),
            "tokenizer_digest": self._digest,
            "stats": engine.stats(),
        }

    def tokenizer(self) -> dict[str, Any]:
        encoded = {name: base64.b64encode(data).decode() for name, data in self._files.items()}
        return {"digest": self._digest, "files": encoded}

    async def answer(self, method: str, path: str, body: object) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one request; never raises."""
        route = path.rstrip("/").rsplit("/", 1)[-1]
        try:
            if method == "GET" and route == "info":
                return 200, self.info()
            if method == "GET" and route == "stats":
                return 200, self.engine.stats()
            if method == "GET" and route == "tokenizer":
                return 200, self.tokenizer()
            if method == "POST" and route == "generate":
                return 200, await self._generate(body)
            if method == "POST" and route == "score":
                return 200, await self._score(body)
            return 404, {"error": "invalid", "message": f"no such route: {method} {path}"}
        except Exception as exc:
            if not isinstance(exc, (ValueError, EngineBusy)):
                log.exception("remote %s failed", route)
            return error_body(exc)

    async def _generate(self, body: object) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise ProtocolError("the body must be a JSON object")
        texts = body.get("texts")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ProtocolError("texts must be a list of strings")
        options = options_from_json(body.get("options"))
        results = await self.engine.generate_batch(texts, options)
        return {"results": [result_to_json(r) for r in results]}

    async def _score(self, body: object) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise ProtocolError("the body must be a JSON object")
        source, candidates = body.get("source"), body.get("candidates")
        if not isinstance(source, str):
            raise ProtocolError("source must be a string")
        if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
            raise ProtocolError("candidates must be a list of strings")
        languages = {k: body.get(k) for k in ("source_language", "target_language")}
        for name, value in languages.items():
            if value is not None and not isinstance(value, str):
                raise ProtocolError(f"{name} must be a string")
        scores = await self.engine.score(source, candidates, **languages)  # type: ignore[arg-type]
        return {"scores": [score_to_json(s) for s in scores]}
