"""The engine as a Ray Serve deployment: each replica is one :class:`Engine` behind HTTP.

:func:`build_app` returns the application ``seqbot engine serve`` runs (and the tests
run); the replica class only turns a Starlette request into a call of
:meth:`EngineEndpoint.answer` and its answer into JSON, so the protocol lives in one
place (:mod:`bot.serving.protocol`). Importing this module imports Ray: only the serve
command and the tests do, never the bot.

Concurrency, the one setting that matters here: Serve sends a replica at most
``max_ongoing_requests`` requests at a time and queues the rest in its router. Serve's
default (5) suits a replica that handles one request at a time. A seqbot replica is the
opposite: its engine decodes every request it holds in one continuous batch of up to
``max_batch`` rows and queues ``max_queue`` more before it answers ``busy``. With a
limit of 5, no batch is ever wider than 5 rows, so a replica that can decode 32 chats
per step decodes 5 and the rest wait in Serve's queue. The default here is therefore
``max_batch + max_queue``: every request the engine could batch or queue reaches it,
and a replica is "full" exactly when the in-process engine would be (``busy``, which
the client maps to ``EngineBusy``). Measured on a 2-core Intel Xeon (tiny T5, fp32, one
replica, one torch thread, 32 concurrent requests of 48 tokens each): 1.2-1.3k tokens/s
with a limit of 5 against 3.4-4.7k tokens/s with this default (the burst in 0.33-0.45 s
instead of 1.2 s).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from bot.engine.config import EngineConfig

from .protocol import EngineEndpoint

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "SeqbotEngine"
#: How long a stopping replica waits for requests in flight when the config sets no
#: engine timeout (``SEQBOT_ENGINE_TIMEOUT_SECONDS`` bounds them otherwise).
DEFAULT_DRAIN_SECONDS = 120.0


def _json(status: int, body: Any) -> Response:
    """JSON the way Python's ``json`` writes it.

    Not Starlette's JSONResponse: it refuses NaN and infinity, so a log-probability
    that is ``-inf`` (a model whose logits mask a token) would turn a valid answer into
    a 500. The in-process engine returns the value; ``json.loads`` reads it back.
    """
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _relative_path(request: Request) -> str:
    """The path under the route prefix: Serve leaves the prefix in ``path`` and
    puts it in ``root_path``."""
    path, root = request.url.path, request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


@serve.deployment(name=DEPLOYMENT_NAME)
class SeqbotEngine:
    """One replica: loads the model once, answers the engine protocol over HTTP."""

    def __init__(self, model: str, config: EngineConfig) -> None:
        from bot.engine.engine import Engine

        self._engine: Any = Engine.load(model, config)
        self.endpoint = EngineEndpoint(self._engine)
        log.info("replica ready: %s", self._engine.stats())

    async def __call__(self, request: Request) -> Response:
        raw = await request.body()
        body: object = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return _json(400, {"error": "invalid", "message": "the body is not valid JSON"})
        status, answer = await self.endpoint.answer(request.method, _relative_path(request), body)
        return _json(status, answer)

    def __del__(self) -> Awaitable[None] | None:
        """Serve calls this after the requests in flight have finished (it waits up to
        ``graceful_shutdown_timeout_s``); closing with ``drain`` lets anything the engine
        still holds finish too.

        Not ``async def``: Serve awaits the coroutine returned here, while a second,
        garbage-collection call of an async ``__del__`` would leave a coroutine never
        awaited. The engine is taken out first, so only the first call closes it.
        """
        engine, self._engine = getattr(self, "_engine", None), None
        if engine is None:
            return None
        return engine.close(drain=True)


def default_max_ongoing(config: EngineConfig) -> int:
    """Requests Serve lets one replica hold: all the engine can batch or queue (see the
    module docstring for why Serve's default of 5 starves the batcher)."""
    return config.max_batch + config.max_queue


def build_app(
    model: str,
    *,
    replicas: int | None = None,
    autoscale: tuple[int, int] | None = None,
    int8: bool | None = None,
    max_ongoing_requests: int | None = None,
    config: EngineConfig | None = None,
    cpus_per_replica: float = 1.0,
) -> serve.Application:
    """The bound application: ``replicas`` fixed replicas (default 1) or autoscaling
    between ``autoscale = (min, max)`` replicas.

    ``config`` (default :class:`EngineConfig`'s defaults, e.g. ``from_settings``) is
    what every replica runs with; ``int8``, if given, overrides its precision. Each
    replica asks Ray for ``cpus_per_replica`` CPUs and, unless the config fixes
    ``threads``, runs torch on that many threads: torch's default (every core of the
    node) would oversubscribe a node that runs several replicas.
    ``max_ongoing_requests`` defaults to :func:`default_max_ongoing`.
    """
    base = config or EngineConfig()
    threads = base.threads or max(1, round(cpus_per_replica))
    precision = base.int8 if int8 is None else int8
    engine_config = dataclasses.replace(base, int8=precision, threads=threads)
    limit = max_ongoing_requests or default_max_ongoing(engine_config)
    drain = engine_config.timeout or DEFAULT_DRAIN_SECONDS
    options: dict[str, Any] = {
        "max_ongoing_requests": limit,
        "ray_actor_options": {"num_cpus": cpus_per_replica},
        "graceful_shutdown_timeout_s": drain + 5.0,
        "graceful_shutdown_wait_loop_s": 0.5,
        **_scaling(replicas, autoscale, target=min(engine_config.max_batch, limit)),
    }
    return SeqbotEngine.options(**options).bind(_absolute(model), engine_config)


def _scaling(
    replicas: int | None, autoscale: tuple[int, int] | None, target: int
) -> dict[str, Any]:
    """``num_replicas`` or an ``autoscaling_config`` aiming at ``target`` requests per
    replica: a full batch is the load a replica is built for, and Serve's default
    target (2) would add a replica while the first still has 30 free batch rows."""
    if replicas is not None and autoscale is not None:
        raise ValueError("give replicas or autoscale, not both")
    if autoscale is None:
        if replicas is not None and replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {replicas}")
        return {"num_replicas": replicas or 1}
    low, high = autoscale
    if not 0 <= low <= high or high < 1:
        raise ValueError(f"autoscale needs 0 <= MIN <= MAX and MAX >= 1, got {low}:{high}")
    return {
        "autoscaling_config": {
            "min_replicas": low,
            "max_replicas": high,
            "initial_replicas": max(low, 1),
            "target_ongoing_requests": target,
        }
    }


def _absolute(model: str) -> str:
    """A local directory as an absolute path (replicas do not share the caller's working
    directory); hub ids as given."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def app_builder(args: dict[str, Any]) -> serve.Application:
    """The application from a Serve config file (KubeRay's ``RayService``, ``serve run``).

    ``args``: ``model`` (default ``SEQBOT_MODEL``), ``replicas`` or ``autoscale``
    (``"MIN:MAX"``), ``int8``, ``cpus_per_replica``; everything else comes from the
    ``SEQBOT_*`` settings in the application's ``runtime_env``, as for
    ``seqbot engine serve``.
    """
    from bot.settings import load_settings

    from .serve_cli import parse_autoscale

    settings = load_settings()
    autoscale = args.get("autoscale")
    replicas = args.get("replicas")
    int8 = args.get("int8")
    return build_app(
        str(args.get("model") or settings.model),
        replicas=int(replicas) if replicas is not None else None,
        autoscale=parse_autoscale(str(autoscale)) if autoscale is not None else None,
        int8=bool(int8) if int8 is not None else None,
        config=EngineConfig.from_settings(settings),
        cpus_per_replica=float(args.get("cpus_per_replica", 1.0)),
    )
