"""A real local Ray with the engine application on it, for tests/serving.

Ray and Serve start once per test module (Ray's start is a few seconds of CI time);
the helpers find replica processes through the GCS actor table, which works without
the dashboard the tests leave out.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.engine.config import EngineConfig
from bot.serving.protocol import APP_NAME, ROUTE_PREFIX

#: What every replica in these tests runs: fp32 (outputs comparable token for token),
#: one torch thread (the replicas' default), a bounded time per request.
ENGINE_CONFIG = EngineConfig(int8=False, threads=1, timeout=30.0)
REPLICAS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServeApp:
    url: str  # http://127.0.0.1:PORT/seqbot
    model: Path


@contextmanager
def running_app(model: Path, replicas: int = REPLICAS) -> Iterator[ServeApp]:
    """A local Ray (2 CPUs, no dashboard), Serve on a free port, the application."""
    import ray
    from ray import serve

    from bot.serving.deployment import build_app

    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = build_app(str(model), replicas=replicas, int8=False, config=ENGINE_CONFIG)
        serve.run(app, name=APP_NAME, route_prefix=ROUTE_PREFIX)
        yield ServeApp(f"http://127.0.0.1:{port}{ROUTE_PREFIX}", model)
        serve.delete(APP_NAME)
        serve.shutdown()
    finally:
        ray.shutdown()


def replica_pids() -> set[int]:
    """Process ids of the application's live replica actors."""
    from ray._private import state

    from bot.serving.deployment import DEPLOYMENT_NAME

    class_name = f"ServeReplica:{APP_NAME}:{DEPLOYMENT_NAME}"
    return {
        int(actor["Pid"])
        for actor in state.actors().values()
        if actor["ActorClassName"] == class_name and actor["State"] == "ALIVE"
    }


def running_replicas() -> int:
    """Replicas Serve reports as RUNNING (0 while the application is not healthy)."""
    from ray import serve

    from bot.serving.deployment import DEPLOYMENT_NAME

    app = serve.status().applications.get(APP_NAME)
    if app is None or DEPLOYMENT_NAME not in app.deployments:
        return 0
    deployment = app.deployments[DEPLOYMENT_NAME]
    if deployment.status != "HEALTHY":
        return 0
    return int(deployment.replica_states.get("RUNNING", 0))


def wait_for_replacement(killed: int, timeout: float = 120.0) -> set[int]:
    """Wait until Serve runs REPLICAS healthy replicas again, none of them ``killed``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = replica_pids()
        if killed not in pids and len(pids) == REPLICAS and running_replicas() == REPLICAS:
            return pids
        time.sleep(0.5)
    raise AssertionError(f"Serve did not replace replica {killed} in {timeout:.0f}s")
