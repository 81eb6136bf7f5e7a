"""Guardrail reaction time: from the harmful events to the automatic rollback of a guarded rollout.

Run: .venv/bin/python bench/safety.py [--runs 20] [--interval 10] [--units 600]

Starts ``experimently serve`` on a free loopback port with a temporary data directory (embedded
SQLite unless EXPERIMENTLY_DATABASE_URL / EXPERIMENTLY_REDIS_URL are set in the environment) and an
aggregation interval of ``--interval`` seconds. Each run: a new flag, a manual guarded rollout to 50%
(guardrail: an error count), ``--units`` units served through the batch evaluation endpoint (the
server records their flag exposures), then ONE batch of error events in which the new variation has
three times the error rate of the old one. The time measured runs from that batch's 202 answer to the
first read of the rollout that says ``rolled_back`` (polled every 100 ms); each run waits a random
part of the interval before sending, so the events land at a uniform phase of the aggregation timer.
Budget: one aggregation interval + 5 s. Bounded: every run gives up after ``3 x interval + 10`` s;
the server is stopped at the end. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
ADMIN = ("bench-admin@example.com", "bench-password-123456")
FLAGS = "/api/v1/feature-flags"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int, interval: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EXPERIMENTLY_DATA_DIR": str(data_dir),
        "EXPERIMENTLY_ADMIN_EMAIL": ADMIN[0],
        "EXPERIMENTLY_ADMIN_PASSWORD": ADMIN[1],
        "EXPERIMENTLY_ACCESS_LOG": "false",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
        "EXPERIMENTLY_AGGREGATION_INTERVAL_SECONDS": str(interval),
        "EXPERIMENTLY_API_KEY_RATE_LIMIT": "1000000/minute",
    }
    exe = Path(sys.executable).parent / "experimently"
    return subprocess.Popen(
        [str(exe), "serve", "--migrate", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 180  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def setup(client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    token = (
        await client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    ).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    metric = {"key": "errors", "name": "Errors", "kind": "count", "event_name": "error", "direction": "lower"}
    (await client.post("/api/v1/metrics", json=metric, headers=admin)).raise_for_status()
    keys = []
    for scope in ("evaluate", "track"):
        body = {"name": scope, "environment": "production", "scopes": [scope]}
        response = await client.post("/api/v1/api-keys", json=body, headers=admin)
        response.raise_for_status()
        keys.append({"X-API-Key": response.json()["data"]["key"]})
    return admin, keys[0], keys[1]


async def one_run(
    client: httpx.AsyncClient,
    headers: tuple[dict[str, str], ...],
    run: int,
    units: int,
    limit: float,
    phase: float,
) -> float | None:
    admin, evaluate, track = headers
    key = f"bench-{run}"
    (await client.post(FLAGS, json={"key": key, "name": key}, headers=admin)).raise_for_status()
    env = {"enabled": True, "fallthrough": {"variation": "off"}, "version": 1}
    (await client.put(f"{FLAGS}/{key}/environments/production", json=env, headers=admin)).raise_for_status()
    body = {"environment": "production", "variation": "on", "percentage": 50, "guardrail_metrics": ["errors"]}
    started = await client.post(f"{FLAGS}/{key}/guarded-rollouts", json=body, headers=admin)
    started.raise_for_status()
    rollout = started.json()["data"]["id"]
    users = [f"{key}-u{i}" for i in range(units)]
    served = await client.post(
        f"{FLAGS}/evaluate/batch",
        json={"flag_key": key, "users": [{"user_id": u} for u in users]},
        headers=evaluate,
    )
    served.raise_for_status()
    variations = [r["variation"] for r in served.json()["data"]["results"]]
    # the exposures reach the pipeline (buffered 0.2 s); then a random phase against the aggregation
    # timer, or every run would send its events at the same point of the interval
    await asyncio.sleep(0.5 + random.uniform(0, phase))
    events = [
        {"name": "error", "user_id": u}
        for i, (u, v) in enumerate(zip(users, variations, strict=True))
        if i % 10 < (3 if v == "on" else 1)
    ]
    (await client.post("/api/v1/events/batch", json={"events": events}, headers=track)).raise_for_status()
    sent = time.perf_counter()
    while time.perf_counter() - sent < limit:
        state = await client.get(f"{FLAGS}/{key}/guarded-rollouts/{rollout}", headers=admin)
        data = state.json()["data"]
        if data["status"] == "rolled_back":
            took = time.perf_counter() - sent
            if run == 0:
                print(f"outcome: {data['outcome']}")
            return took
        await asyncio.sleep(0.1)
    return None


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), port, args.interval)
        try:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as client:
                await wait_ready(client)
                headers = await setup(client)
                times: list[float] = []
                missed = 0
                for run in range(args.runs):
                    took = await one_run(
                        client, headers, run, args.units, 3 * args.interval + 10, args.interval
                    )
                    if took is None:
                        missed += 1
                        print(f"run {run + 1}: no rollback within the limit")
                    else:
                        times.append(took)
                        print(f"run {run + 1}: rolled back {took:.2f} s after the harmful events")
        finally:
            server.terminate()
            server.wait(timeout=30)
    times.sort()
    p99 = times[max(0, math.ceil(len(times) * 0.99) - 1)] if times else None  # nearest rank
    return {
        "bench": "safety_reaction",
        "runs": args.runs,
        "missed": missed,
        "aggregation_interval_s": args.interval,
        "budget_s": args.interval + 5,
        "p50_s": round(statistics.median(times), 2) if times else None,
        "p99_s": round(p99, 2) if p99 is not None else None,
        "max_s": round(times[-1], 2) if times else None,
        "units_per_run": args.units,
        "backend": "postgres" if os.environ.get("EXPERIMENTLY_DATABASE_URL") else "sqlite",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--units", type=int, default=600)
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    print(f"P50 {figures['p50_s']} s, P99 {figures['p99_s']} s (budget {figures['budget_s']} s)")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
