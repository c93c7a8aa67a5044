"""``seqbot engine serve``: the engine as a Ray Serve application, in the foreground.

It joins the Ray cluster in ``RAY_ADDRESS`` or starts a local one, runs the application
``seqbot-engine`` at ``/seqbot`` and prints the URL bot workers take as
``SEQBOT_ENGINE_URL``. SIGTERM or Ctrl-C lets requests in flight finish, removes the
application and stops what this command started (Serve, a local Ray), nothing else.

Ray is imported inside the command only: ``seqbot --help`` and every other command
stay as fast as without the ``scale`` extra.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
from types import FrameType
from typing import Annotated, Any

import typer

from .protocol import APP_NAME, ROUTE_PREFIX

INSTALL_HINT = "Install the scale extra: pip install -e '.[scale]'"

engine_app = typer.Typer(
    help="Run the engine as a service for many bot workers (Ray Serve).", no_args_is_help=True
)


class ServeError(Exception):
    """A problem the user can fix; printed as one line, exit code 1 or 2."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """What the command line asked for, checked before Ray starts."""

    model: str | None
    replicas: int | None
    autoscale: tuple[int, int] | None
    host: str
    port: int
    int8: bool | None
    cpus_per_replica: float

    @property
    def max_replicas(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas or 1

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{ROUTE_PREFIX}"


def parse_autoscale(value: str) -> tuple[int, int]:
    """``MIN:MAX`` as two integers with 0 <= MIN <= MAX and MAX >= 1."""
    low, sep, high = value.partition(":")
    try:
        bounds = int(low), int(high)
    except ValueError:
        bounds = None
    if not sep or bounds is None:
        raise ServeError(f"--autoscale takes MIN:MAX, e.g. 1:4 (got {value!r})", 2)
    if bounds[0] < 0 or bounds[1] < 1:
        raise ServeError(f"--autoscale {value}: MIN must be >= 0 and MAX >= 1", 2)
    if bounds[0] > bounds[1]:
        raise ServeError(f"--autoscale {value}: MIN is larger than MAX", 2)
    return bounds


@engine_app.command()
def serve(
    model: Annotated[
        str | None, typer.Option(help="Directory or hub id (default: SEQBOT_MODEL)")
    ] = None,
    replicas: Annotated[
        int | None, typer.Option(help="Fixed number of engine replicas (default 1)")
    ] = None,
    autoscale: Annotated[
        str | None, typer.Option(metavar="MIN:MAX", help="Autoscale between MIN and MAX")
    ] = None,
    host: Annotated[str, typer.Option(help="Address the HTTP proxy listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    int8: Annotated[
        bool | None,
        typer.Option("--int8/--fp32", help="Weight precision (default: SEQBOT_ENGINE_INT8)"),
    ] = None,
    cpus_per_replica: Annotated[
        float, typer.Option(help="CPUs Ray reserves per replica; also its torch threads")
    ] = 1.0,
) -> None:
    """Serve the engine over HTTP on Ray Serve until SIGTERM or Ctrl-C."""
    try:
        options = _check_options(model, replicas, autoscale, host, port, int8, cpus_per_replica)
        _require_ray()
        code = _serve(options)
    except ServeError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)


def _check_options(
    model: str | None,
    replicas: int | None,
    autoscale: str | None,
    host: str,
    port: int,
    int8: bool | None,
    cpus: float,
) -> ServeOptions:
    if replicas is not None and autoscale is not None:
        raise ServeError("give --replicas or --autoscale, not both", 2)
    if replicas is not None and replicas < 1:
        raise ServeError("--replicas must be at least 1", 2)
    if not 0 < port < 65536:
        raise ServeError(f"--port {port} is not a TCP port", 2)
    if cpus <= 0:
        raise ServeError("--cpus-per-replica must be positive", 2)
    bounds = parse_autoscale(autoscale) if autoscale is not None else None
    return ServeOptions(model, replicas, bounds, host, port, int8, cpus)


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        raise ServeError(INSTALL_HINT) from None


def _engine_config(options: ServeOptions) -> tuple[str, Any]:
    """The model and the :class:`EngineConfig` from the settings (``SEQBOT_*``)."""
    from bot.engine.config import EngineConfig
    from bot.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise ServeError(str(exc)) from None
    model = options.model or settings.model
    config = EngineConfig.from_settings(settings)
    if options.int8 is not None:
        config = dataclasses.replace(config, int8=options.int8)
    if not os.environ.get("RAY_ADDRESS"):
        _check_model(model, config.cache_dir)
    return model, config


def _check_model(model: str, cache_dir: str | None) -> None:
    """Fail in one line before Ray starts when a local run could not load the model
    (on a cluster the nodes have their own model cache, so only they can tell)."""
    from bot.engine import loader
    from bot.engine.errors import EngineError
    from bot.errors import UserError

    try:
        loader.resolve(model, cache_dir)
    except (EngineError, UserError) as exc:
        raise ServeError(str(exc)) from None


class _Cluster:
    """The Ray and Serve this command joined or started; stops only what it started."""

    def __init__(self) -> None:
        import ray
        from ray import serve

        self.ray, self.serve = ray, serve
        self.address = os.environ.get("RAY_ADDRESS") or None
        self.started_ray = self.address is None
        self.started_serve = False

    def join(self, options: ServeOptions) -> None:
        """Join ``RAY_ADDRESS`` or start a local Ray, then start Serve if it is not running."""
        try:
            if self.address:
                self.ray.init(address=self.address)
            else:
                # Enough logical CPUs for every replica, even on a small machine
                # (oversubscribed replicas are slow; replicas Ray cannot place never start).
                needed = math.ceil(options.max_replicas * options.cpus_per_replica)
                cpus = max(os.cpu_count() or 1, needed)
                self.ray.init(address="local", num_cpus=cpus, include_dashboard=False)
        except Exception as exc:
            where = f"join the Ray cluster at {self.address}" if self.address else "start Ray"
            raise ServeError(f"cannot {where}: {_last_line(exc)}") from None
        self.started_serve = self.started_ray or not _serve_running()
        try:
            self.serve.start(http_options={"host": options.host, "port": options.port})
        except Exception as exc:
            raise ServeError(f"cannot start Serve on {options.url}: {_last_line(exc)}") from None
        if not self.started_serve:
            typer.echo(
                "Serve already runs on this cluster: its HTTP host and port stay as they are.",
                err=True,
            )

    def stop(self) -> None:
        """Remove the application (Serve waits for its requests in flight), then stop
        Serve if this command started it, and leave Ray (stopping it if started here)."""
        try:
            if self.ray.is_initialized():
                self.serve.delete(APP_NAME)
                if self.started_serve:
                    self.serve.shutdown()
        finally:
            self.ray.shutdown()


def _start_cluster(options: ServeOptions) -> _Cluster:
    cluster = _Cluster()
    try:
        cluster.join(options)
    except ServeError:
        if cluster.started_serve and cluster.ray.is_initialized():
            cluster.serve.shutdown()
        cluster.ray.shutdown()
        raise
    return cluster


def _serve_running() -> bool:
    import ray
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        return False
    return True


def _serve(options: ServeOptions) -> int:
    """Run until a signal; the exit code (0 after a clean shutdown)."""
    from .deployment import build_app

    model, config = _engine_config(options)
    app = build_app(
        model,
        replicas=options.replicas,
        autoscale=options.autoscale,
        config=config,
        cpus_per_replica=options.cpus_per_replica,
    )
    cluster = _start_cluster(options)
    stop = _StopSignal()
    try:
        try:
            _run_app(cluster, app)
            scale = "{}-{}".format(*options.autoscale) if options.autoscale else options.replicas
            typer.echo(f"Serving {model} on {scale or 1} replica(s) at {options.url}")
            typer.echo(f"Bot workers: SEQBOT_ENGINE_URL={options.url}")
            stop.wait()
            typer.echo("Stopping: requests in flight finish first (again to abort).", err=True)
        finally:
            cluster.stop()
    except KeyboardInterrupt:  # a second signal while stopping
        typer.echo("Stopped without waiting for requests in flight.", err=True)
        cluster.ray.shutdown()
        return 130
    finally:
        stop.restore()
    return 0


def _run_app(cluster: _Cluster, app: Any) -> None:
    try:
        cluster.serve.run(app, name=APP_NAME, route_prefix=ROUTE_PREFIX)
    except Exception as exc:  # Serve wraps a replica's failure in several types
        reason = _replica_failure(cluster) or _last_line(exc)
        raise ServeError(f"the engine application did not start: {reason}") from None


def _replica_failure(cluster: _Cluster) -> str | None:
    """What the replicas raised (Serve keeps it in the deployment's status message)."""
    try:
        app = cluster.serve.status().applications.get(APP_NAME)
        messages = [d.message for d in app.deployments.values() if d.message] if app else []
    except Exception:
        return None
    return _last_line(Exception(messages[-1])) if messages else None


def _last_line(exc: BaseException) -> str:
    """The line of a (possibly multi-line, remote) error that says what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class _StopSignal:
    """SIGTERM and SIGINT end the foreground wait; a second one aborts the drain.

    Installed after ``ray.init``, which sets a SIGTERM handler of its own that exits
    without removing the application.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()

    def wait(self) -> None:
        while not self._event.wait(1.0):
            pass

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
