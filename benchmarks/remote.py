"""The cost of the HTTP hop: the chat workload through one Ray Serve replica vs in-process.

Same model (flan-t5-small shape, random weights, int8), same machine, same threads. The
server is a real ``seqbot engine serve`` with one replica; the client is the bot's own
``RemotePool``. Rounds interleave the two so machine drift hits both alike, and the
in-process engine runs while the (idle) Ray cluster is up, so both see the same background.

    python benchmarks/remote.py [--rounds 3] [--chats 8,32] [--quick]

Prints a table; writes benchmarks/results/remote.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _engine_model as model_files  # noqa: E402
import _engine_workload as workload  # noqa: E402
from _engine_scaling import point_stats  # noqa: E402

MAX_BATCH = 32
RESULTS = HERE / "results" / "remote.json"
Generate = Callable[[str, Any], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model_dir: Path, port: int, threads: int) -> subprocess.Popen[bytes]:
    """``seqbot engine serve`` with one replica owning ``threads`` cores."""
    env = os.environ | {
        "SEQBOT_ENGINE_MAX_BATCH": str(MAX_BATCH),
        "SEQBOT_ENGINE_TIMEOUT_SECONDS": "600",
    }
    command = [sys.executable, "-m", "bot", "engine", "serve", "--model", str(model_dir)]
    command += ["--replicas", "1", "--port", str(port), "--int8"]
    command += ["--cpus-per-replica", str(threads)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_serving(url: str, server: subprocess.Popen[bytes], limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            raise SystemExit(f"seqbot engine serve exited ({server.returncode}):\n{err[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the engine at {url} did not come up within {limit:.0f} s")


async def closed_loop(generate: Generate, chats: list[workload.Chat]) -> dict[str, Any]:
    """Every chat sends its next request when its reply arrives (see _engine_scaling)."""
    from bot.engine import GenerationOptions

    latencies: list[float] = []

    async def chat(requests: workload.Chat) -> None:
        for src, new_tokens in requests:
            opts = GenerationOptions(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
            sent = time.perf_counter()
            result = await generate(workload.text(src), opts)
            latencies.append(time.perf_counter() - sent)
            assert len(result.token_ids) == new_tokens

    start = time.perf_counter()
    await asyncio.gather(*(chat(c) for c in chats))
    return point_stats(latencies, chats, time.perf_counter() - start)


async def measure(args: argparse.Namespace, model_dir: Path, url: str) -> dict[str, Any]:
    from bot.engine import Engine, EngineConfig
    from bot.serving.client import RemotePool

    config = EngineConfig(int8=True, threads=args.threads, max_batch=MAX_BATCH)
    local = await asyncio.to_thread(Engine.load, str(model_dir), config)
    pool = RemotePool(url, timeout=600)
    remote = await pool.get()
    engines: dict[str, Generate] = {"in-process": local.generate, "remote": remote.generate}
    plan = workload.Plan.quick() if args.quick else workload.Plan.full()
    points = {n: plan.scaling_normal.get(n, 4) for n in args.chats}
    warm = workload.closed_loop(plan, "normal", seed=99)[min(plan.scaling_normal)]
    for generate in engines.values():
        await closed_loop(generate, warm)
    rounds: list[dict[str, Any]] = []
    for number in range(args.rounds):
        order = list(engines) if number % 2 == 0 else list(reversed(engines))
        this_round: dict[str, Any] = {}
        for chats, per_chat in points.items():
            seeded = workload.closed_loop(
                workload.Plan(**{**plan.__dict__, "scaling_normal": {chats: per_chat}}),
                "normal",
                seed=number,
            )[chats]
            for name in order:
                this_round.setdefault(name, {})[str(chats)] = await closed_loop(
                    engines[name], seeded
                )
        rounds.append(this_round)
        print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    await local.stop()
    await pool.close()
    return {"rounds": rounds, "server_stats": remote.stats()}


def summary(rounds: list[dict[str, Any]], chats: list[int]) -> list[dict[str, Any]]:
    """Per point: median tokens/s of each engine and the median of per-round ratios."""
    rows = []
    for n in chats:
        key = str(n)
        local = [r["in-process"][key]["tokens_per_second"] for r in rounds]
        remote = [r["remote"][key]["tokens_per_second"] for r in rounds]
        rows.append(
            {
                "chats": n,
                "in_process_tok_s": statistics.median(local),
                "remote_tok_s": statistics.median(remote),
                "remote_over_in_process": statistics.median(
                    b / a for a, b in zip(local, remote, strict=True)
                ),
                "round_ratios": [b / a for a, b in zip(local, remote, strict=True)],
                "in_process_p95_s": statistics.median(
                    r["in-process"][key]["p95_latency_s"] for r in rounds
                ),
                "remote_p95_s": statistics.median(
                    r["remote"][key]["p95_latency_s"] for r in rounds
                ),
            }
        )
    return rows


def print_table(machine: str, rows: list[dict[str, Any]]) -> None:
    print(f"\nHTTP hop through Ray Serve, {machine}")
    print(
        "| chats | in-process tok/s | remote tok/s | remote / in-process | p95 in-proc | p95 remote |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ratios = ", ".join(f"{r:.2f}" for r in row["round_ratios"])
        print(
            f"| {row['chats']} | {row['in_process_tok_s']:.0f} | {row['remote_tok_s']:.0f} | "
            f"{row['remote_over_in_process']:.2f} ({ratios}) | {row['in_process_p95_s']:.2f} s | "
            f"{row['remote_p95_s']:.2f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chats", default="8,32", help="comma-separated chat counts")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on both sides")
    parser.add_argument("--quick", action="store_true", help="a tiny run to check the harness")
    args = parser.parse_args()
    args.chats = [int(n) for n in args.chats.split(",")]
    from bot.engine.cpu import describe

    cpu = describe()
    machine = f"{cpu['cpu']} ({cpu['cpu_flags']}; int8 {cpu['int8_path']}), {args.threads} threads"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model_files.build(Path(tmp) / "model")
        port = free_port()
        url = f"http://127.0.0.1:{port}/seqbot"
        server = start_server(model_dir, port, args.threads)
        try:
            wait_until_serving(url, server)
            measured = asyncio.run(measure(args, model_dir, url))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    rows = summary(measured["rounds"], args.chats)
    print_table(machine, rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine, "cpu": cpu, "args": vars(args), "summary": rows, **measured}
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
