"""A remote engine for bot workers: the engine's surface, answered by ``seqbot engine serve``.

``SEQBOT_ENGINE_URL=http://HOST:PORT/seqbot`` makes :func:`bot.app.make_engine_pool` build
a :class:`RemotePool` instead of loading a model. Tasks cannot tell the difference: a
:class:`RemoteEngine` has the attributes and methods they use of :class:`bot.engine.Engine`
(``name``, limits, ``languages``, ``count_tokens``, ``generate``, ``generate_batch``,
``score``, ``stats``) and raises the same exceptions, mapped from the protocol's error
kinds (:mod:`bot.serving.protocol`).

Tokens are counted here, not over HTTP: tasks count tokens many times per command (fitting
prompts, packing chunks), synchronously. So the client fetches the model's tokenizer files
once (``GET /tokenizer``), keeps them in a temporary directory named by their digest and
loads them with the engine's own :func:`~bot.engine.tokenizer.load_tokenizer`; the counts
are exactly the server's. Nothing here imports torch.

Failures, as a chat user sees them:

- the engine server cannot be reached: :class:`EngineUnreachable`, one sentence, after a
  few retries with short backoff. Only failures *before a response* are retried (refused,
  reset, connect timeout): generation has no side effects, but a request that timed out
  waiting for its answer has used its time already.
- a full replica (503): :class:`~bot.engine.EngineBusy`; out of time, on either side:
  :class:`~bot.engine.EngineTimeout`; a bad request (400): ``ValueError`` in the caller,
  as from a local engine; a broken server (500): :class:`~bot.engine.EngineError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.engine.errors import (
    EngineBusy,
    EngineClosed,
    EngineError,
    EngineTimeout,
    ModelNotAvailable,
)
from bot.engine.options import GenerationOptions, GenerationResult, ScoreResult
from bot.engine.tokenizer import load_tokenizer
from bot.errors import ServiceUnavailable, UserError
from bot.serving.protocol import (
    ERRORS,
    error_from_body,
    files_digest,
    options_to_json,
    result_from_json,
    score_from_json,
    tokenizer_files,
)

if TYPE_CHECKING:
    from bot.engine.tokenizer import Tokenizer
    from bot.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Attempts after the first for a request that could not reach the server.
DEFAULT_RETRIES = 3
#: The first wait before a retry; doubled each time, at most MAX_RETRY_DELAY.
RETRY_DELAY = 0.25
MAX_RETRY_DELAY = 2.0
#: A server that does not accept the connection in this time is retried like a refusal.
CONNECT_TIMEOUT = 5.0
#: ``stats()`` is refreshed in the background when ``get()`` finds it older than this.
STATS_MAX_AGE = 30.0
#: Connections kept open to the server: one per request in flight, so about the queue limit.
MAX_CONNECTIONS = 256

UNREACHABLE = "The language model server is not reachable right now; please try again later."

#: Failures before any response: the request never ran, so it is safe to send again.
RETRYABLE = (
    aiohttp.ClientConnectorError,  # refused, no route, DNS
    aiohttp.ConnectionTimeoutError,  # connect timed out
    aiohttp.ServerDisconnectedError,  # a kept-alive connection closed under us
    aiohttp.ClientOSError,  # reset while sending
)


class EngineUnreachable(ServiceUnavailable):
    """The engine server refused or dropped the connection, also after the retries."""

    def __init__(self, message: str = UNREACHABLE) -> None:
        super().__init__(message)


class ModelNotServed(ModelNotAvailable):
    """A task asked for a model other than the one the engine server runs."""

    def __init__(self, model: str, served: str) -> None:
        self.model, self.served = model, served
        UserError.__init__(
            self,
            f"The model {model!r} is not available here: this bot's language model server "
            f"runs {served!r} only.",
        )


def safe_url(url: str) -> str:
    """``url`` without user, password, query and fragment: what logs may show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# -- the tokenizer files ------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Per user, so one user's files are never read by another's bot."""
    uid = getattr(os, "getuid", lambda: "")()
    return Path(tempfile.gettempdir()) / f"seqbot-tokenizers-{uid}"


def _own_dir(root: Path) -> Path:
    """``root`` if it is this user's; a fresh private directory if someone else made it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and root.stat().st_uid != os.getuid():
        return Path(tempfile.mkdtemp(prefix="seqbot-tokenizers-"))
    return root


def cached_tokenizer(root: Path, digest: str) -> Path | None:
    """The directory holding exactly the files of ``digest``, if it is there and intact."""
    path = root / digest
    if path.is_dir() and files_digest(tokenizer_files(path)) == digest:
        return path
    return None


def store_tokenizer(root: Path, digest: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` under ``root/digest`` (whole or not at all); returns the directory."""
    root = _own_dir(root)
    staging = Path(tempfile.mkdtemp(prefix=".part-", dir=root))
    for name, data in files.items():
        (staging / name).write_bytes(data)
    target = root / digest
    if cached_tokenizer(root, digest) is not None:  # another worker on this host was first
        shutil.rmtree(staging, ignore_errors=True)
        return target
    shutil.rmtree(target, ignore_errors=True)  # a damaged copy
    try:
        staging.rename(target)
    except OSError:
        return staging  # lost a race against a writer of the same files; ours are whole
    return target


def decode_files(body: object, digest: str) -> dict[str, bytes]:
    """The files of a ``GET /tokenizer`` answer, checked against the digest ``/info`` gave."""
    try:
        encoded = body["files"]  # type: ignore[index]
        files = {str(k): base64.b64decode(v, validate=True) for k, v in encoded.items()}
    except (TypeError, KeyError, AttributeError, ValueError, binascii.Error):
        raise EngineError("the engine server sent unreadable tokenizer files") from None
    for name in files:
        if name in ("", ".", "..") or Path(name).name != name or "\\" in name:
            raise EngineError(f"the engine server sent a tokenizer file named {name[:40]!r}")
    if files_digest(files) != digest:
        raise EngineError("the engine server's tokenizer files do not match their digest")
    return files


# -- the server's description of its model ------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    """``GET /info``: what the engine server runs."""

    model: str
    family: str
    eos_token_id: int
    max_source_tokens: int
    max_target_tokens: int
    languages: frozenset[str]
    digest: str
    stats: dict[str, Any]

    @classmethod
    def parse(cls, body: object) -> ServerInfo:
        try:
            info: Mapping[str, Any] = body  # type: ignore[assignment]
            stats = info.get("stats") or {}
            return cls(
                model=str(info["model"]),
                family=str(info["family"]),
                eos_token_id=int(info["eos_token_id"]),
                max_source_tokens=int(info["max_source_tokens"]),
                max_target_tokens=int(info["max_target_tokens"]),
                languages=frozenset(str(code) for code in info["languages"]),
                digest=str(info["tokenizer_digest"]),
                stats=dict(stats),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            raise EngineError("the engine server sent an unreadable /info answer") from None


def _replica_died(status: int, body: object) -> bool:
    """A 500 without the protocol's JSON: the replica died under the request, not a bug."""
    return status == 500 and not (isinstance(body, Mapping) and body.get("error") in ERRORS)


def error_for(status: int, body: object, where: str) -> Exception:
    """The exception a non-200 answer stands for; plain proxies' statuses are read too."""
    if isinstance(body, Mapping) and body.get("error") in ERRORS:
        return error_from_body(status, body)
    if status in (429, 503):  # e.g. Ray Serve's own backpressure answer
        return EngineBusy()
    if status in (408, 504):
        return EngineTimeout()
    if status == 502:
        log.warning("the engine server at %s: a proxy answered 502 (no replica)", where)
        return EngineUnreachable()
    return EngineError(
        f"the engine server at {where} answered HTTP {status} without a seqbot error; "
        "is SEQBOT_ENGINE_URL right (it ends in /seqbot)?"
    )


def _parsed(parse: Callable[[Any], T], body: Any, key: str, count: int | None) -> list[T]:
    try:
        values = [parse(v) for v in body[key]]
    except (TypeError, KeyError, ValueError, AttributeError):
        raise EngineError(f"the engine server sent an unreadable {key!r} answer") from None
    if count is not None and len(values) != count:
        raise EngineError(f"the engine server sent {len(values)} {key} for {count} inputs")
    return values


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


# -- the engine ---------------------------------------------------------------------------


class RemoteEngine:
    """The engine server's model, with :class:`bot.engine.Engine`'s task-facing surface.

    Call :meth:`connect` (``RemotePool.get`` does) before counting tokens: it reads the
    model's limits and loads its tokenizer.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = 120.0,
        retries: int = DEFAULT_RETRIES,
        retry_delay: float = RETRY_DELAY,
        cache_dir: Path | None = None,
    ) -> None:
        """``timeout``: seconds per request, retries included (None: no limit here)."""
        self.url, self.where = url.rstrip("/"), safe_url(url.rstrip("/"))
        if not self.where.startswith(("http://", "https://")) or "//:" in self.where:
            raise EngineError(f"{self.where}: the engine URL must be http(s)://HOST:PORT/seqbot")
        self.timeout, self.retries, self.retry_delay = timeout, max(0, retries), retry_delay
        self.cache_dir = cache_dir or default_cache_dir()
        self.name, self.family, self.digest = "", "", ""
        self.max_source_tokens = self.max_target_tokens = 0
        self.languages: frozenset[str] = frozenset()
        self.tokenizer: Tokenizer | None = None
        self._stats: dict[str, Any] = {}
        self._stats_at = float("-inf")
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.tokenizer is not None

    async def connect(self) -> None:
        """Read ``/info`` and load the tokenizer, once; a failure is retried on the next call."""
        if self.tokenizer is not None:
            return
        async with self._lock:
            if self.tokenizer is None:
                await self._adopt(ServerInfo.parse(await self._request("GET", "info")))

    async def _adopt(self, info: ServerInfo) -> None:
        """Take the server's description; a new tokenizer digest means a new model there."""
        if self.tokenizer is None or info.digest != self.digest:
            directory = await self._tokenizer_dir(info.digest)
            tokenizer = await asyncio.to_thread(
                load_tokenizer, directory, info.family, info.eos_token_id
            )
            if self.tokenizer is not None:
                log.info("the engine server at %s now runs %s", self.where, info.model)
            self.tokenizer, self.digest = tokenizer, info.digest
        self.name, self.family = info.model, info.family
        self.max_source_tokens, self.max_target_tokens = (
            info.max_source_tokens,
            info.max_target_tokens,
        )
        self.languages = info.languages

    async def _tokenizer_dir(self, digest: str) -> Path:
        cached = await asyncio.to_thread(cached_tokenizer, self.cache_dir, digest)
        if cached is not None:
            return cached
        files = decode_files(await self._request("GET", "tokenizer"), digest)
        return await asyncio.to_thread(store_tokenizer, self.cache_dir, digest, files)

    async def close(self) -> None:
        """Refuse new requests (``EngineClosed``) and close the connections."""
        self._closed = True
        if self._refresh is not None:
            self._refresh.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- tokens ----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            raise EngineError("RemoteEngine.connect() must run before counting tokens")
        return len(self.tokenizer.encode(text))

    # -- requests --------------------------------------------------------------------------
    async def generate(
        self, text: str, options: GenerationOptions | None = None, *, timeout: float | None = None
    ) -> GenerationResult:
        (result,) = await self.generate_batch([text], options, timeout=timeout)
        return result

    async def generate_batch(
        self,
        texts: list[str],
        options: GenerationOptions | None = None,
        *,
        timeout: float | None = None,
    ) -> list[GenerationResult]:
        """One request for all texts, so the server admits and batches them together."""
        if not texts:
            return []
        body = {"texts": list(texts), "options": options_to_json(options)}
        answer = await self._request("POST", "generate", body, timeout)
        return _parsed(result_from_json, answer, "results", len(texts))

    async def score(
        self,
        source: str,
        candidates: list[str],
        *,
        source_language: str | None = None,
        target_language: str | None = None,
        timeout: float | None = None,
    ) -> list[ScoreResult]:
        """Log-probability of each candidate as the output for ``source`` (see Engine.score)."""
        body: dict[str, Any] = {"source": source, "candidates": list(candidates)}
        for key, value in (
            ("source_language", source_language),
            ("target_language", target_language),
        ):
            if value is not None:
                body[key] = value
        answer = await self._request("POST", "score", body, timeout)
        return _parsed(score_from_json, answer, "scores", len(candidates))

    # -- stats -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """The server's ``Engine.stats()`` as last seen (one replica's, behind Ray Serve)."""
        return dict(self._stats)

    async def fetch_stats(self) -> dict[str, Any]:
        await self._request("GET", "stats")
        return self.stats()

    def refresh_if_stale(self) -> None:
        """Re-read ``/info`` in the background when the stats are old; never waits."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._stats_at < STATS_MAX_AGE or self._closed:
            return
        if self._refresh is None or self._refresh.done():
            self._stats_at = loop.time()  # one refresh at a time, even if this one fails
            self._refresh = loop.create_task(self._refresh_info())

    async def _refresh_info(self) -> None:
        try:
            info = ServerInfo.parse(await self._request("GET", "info"))
            async with self._lock:
                await self._adopt(info)
        except Exception as exc:  # the next get() tries again; requests report their own errors
            log.info("could not refresh the engine server's stats: %s", _reason(exc))

    # -- HTTP ------------------------------------------------------------------------------
    async def _request(
        self, method: str, route: str, body: object = None, timeout: float | None = None
    ) -> Any:
        """The JSON answer of one request, or the engine exception its failure stands for."""
        if self._closed:
            raise EngineClosed()
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                status, answer = await self._send(method, f"{self.url}/{route}", body)
                if _replica_died(status, answer):
                    # Serve answers a plain 500 for the requests a dying replica held.
                    # Generating and scoring change nothing, so one more try goes to a
                    # live replica instead of costing the chat its answer.
                    log.info("the engine server at %s lost a replica; retrying once", self.where)
                    status, answer = await self._send(method, f"{self.url}/{route}", body)
        except TimeoutError:
            raise EngineTimeout() from None
        if _replica_died(status, answer):
            log.warning("the engine server at %s failed twice without an answer", self.where)
            raise EngineUnreachable()
        if status != 200:
            raise error_for(status, answer, self.where)
        if route in ("info", "stats") and isinstance(answer, Mapping):
            stats = answer.get("stats") if route == "info" else answer
            if isinstance(stats, Mapping):
                self._stats = dict(stats)
                self._stats_at = asyncio.get_running_loop().time()
        return answer

    async def _send(self, method: str, url: str, body: object) -> tuple[int, object]:
        """Status and JSON body; retries what failed before any response (see RETRYABLE)."""
        session = self._open_session()
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = await session.request(method, url, json=body)
            except RETRYABLE as exc:
                if attempt == attempts:
                    log.warning(
                        "the engine server at %s is not reachable (%s); gave up after %d attempts",
                        self.where,
                        _reason(exc),
                        attempts,
                    )
                    raise EngineUnreachable() from None
                delay = min(self.retry_delay * 2 ** (attempt - 1), MAX_RETRY_DELAY)
                log.info("the engine server at %s: %s; retrying", self.where, _reason(exc))
                await asyncio.sleep(delay)
                continue
            except aiohttp.ClientError as exc:
                log.warning("the engine server at %s failed: %s", self.where, _reason(exc))
                raise EngineUnreachable() from None
            return await self._read(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _read(self, response: aiohttp.ClientResponse) -> tuple[int, object]:
        """The answer's status and JSON (None if the body is not JSON, e.g. a proxy's page)."""
        async with response:
            try:
                raw = await response.read()
            except aiohttp.ClientError as exc:  # cut off mid-answer: it ran, so no retry
                log.warning("the engine server at %s broke off: %s", self.where, _reason(exc))
                raise EngineUnreachable() from None
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
            )
            # aiohttp quietly sends a GET again after a reset; the retries here are the
            # only ones, so that SEQBOT_ENGINE_RETRIES is exact (no public switch for it).
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session


# -- the pool -----------------------------------------------------------------------------


class RemotePool:
    """:class:`bot.engine.EnginePool`'s ``get``/``close``/``loaded`` for one engine server.

    The server runs one model: ``get()`` without a name (or with that model's name)
    returns it; any other name is a :class:`ModelNotServed` reply to the user.
    """

    def __init__(self, url: str, **options: Any) -> None:
        """``options``: those of :class:`RemoteEngine` (timeout, retries, ...)."""
        self.engine = RemoteEngine(url, **options)
        self._warned: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> RemotePool:
        """The pool ``seqbot run`` and ``seqbot chat`` use when SEQBOT_ENGINE_URL is set."""
        if not settings.engine_url:
            raise ValueError("SEQBOT_ENGINE_URL is not set")
        return cls(
            settings.engine_url,
            timeout=settings.engine_timeout_seconds,
            retries=settings.engine_retries,
        )

    async def get(self, model: str | None = None) -> RemoteEngine:
        engine = self.engine
        await engine.connect()
        engine.refresh_if_stale()
        if model is not None and model != engine.name:
            if model not in self._warned:
                self._warned.add(model)
                log.warning(
                    "a task asked for the model %s, but the engine server at %s runs %s; "
                    "check SEQBOT_TRANSLATION_MODEL(S) against the server's model",
                    model,
                    engine.where,
                    engine.name,
                )
            raise ModelNotServed(model, engine.name)
        return engine

    @property
    def loaded(self) -> list[str]:
        return [self.engine.name] if self.engine.connected else []

    async def close(self) -> None:
        await self.engine.close()
