"""Experiment assignment throughput: through the engine, and through the HTTP endpoints of a real
server (single and bulk), first assignment (a write: sticky row + exposure) and repeat assignment
(a sticky read) reported apart.

Run: .venv/bin/python bench/assign.py [--units 2000] [--bulk-requests 20] [--concurrency 8]
     .venv/bin/python bench/assign.py --service [--units 5000] [--concurrency 64]

``--service`` measures the assignment service in-process, without HTTP: the app's runtime is built
in this process (same environment variables), and ``--concurrency`` tasks call
``AssignmentService.assign_many`` for one unit each, as the endpoint does (first assignments, then
the same units again). It reports the rate and the CPU time of this one process per assignment
(``time.process_time``: the database's own CPU is not in it).

Starts ``experimently serve`` on a free loopback port with a temporary data directory (embedded
SQLite unless EXPERIMENTLY_DATABASE_URL / EXPERIMENTLY_REDIS_URL are set in the environment), creates
and starts a 50/50 experiment, then measures. Bounded in count and time; the server is stopped at the
end. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from experimently_sdk import ExperimentDef, assign, compile_experiment

HOST = "127.0.0.1"
ADMIN = ("bench-admin@example.com", "bench-password-123456")
EXPERIMENT = f"bench-exp-{int(time.time())}"  # a new experiment per run: reruns on one database work


def engine_rate(units: int = 200_000) -> float:
    exp = compile_experiment(ExperimentDef(EXPERIMENT, EXPERIMENT, (("control", 50.0), ("treatment", 50.0))))
    contexts = [{"user_id": f"user-{i}"} for i in range(units)]
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for context in contexts:
            assign(exp, context)
        best = max(best, units / (time.perf_counter() - started))
    return best


def free_port() -> int:
    if os.environ.get("BENCH_PORT"):  # a fixed port (a shared machine may give each user a range)
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EXPERIMENTLY_DATA_DIR": str(data_dir),
        "EXPERIMENTLY_ADMIN_EMAIL": ADMIN[0],
        "EXPERIMENTLY_ADMIN_PASSWORD": ADMIN[1],
        "EXPERIMENTLY_ACCESS_LOG": "false",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
    }
    exe = Path(sys.executable).parent / "experimently"
    return subprocess.Popen(
        [str(exe), "serve", "--migrate", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def setup(client: httpx.AsyncClient) -> dict[str, str]:
    token = (
        await client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    ).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    variants = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
    created = await client.post(
        "/api/v1/experiments", json={"key": EXPERIMENT, "name": "bench", "variants": variants}, headers=admin
    )
    created.raise_for_status()
    (await client.post(f"/api/v1/experiments/{EXPERIMENT}/start", headers=admin)).raise_for_status()
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "bench", "environment": "production", "scopes": ["evaluate"]},
        headers=admin,
    )
    return {"X-API-Key": key.json()["data"]["key"]}


async def single(
    client: httpx.AsyncClient, headers: dict[str, str], units: list[str], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    queue = list(reversed(units))

    async def worker() -> None:
        while queue:
            unit = queue.pop()
            started = time.perf_counter()
            response = await client.post(
                f"/api/v1/experiments/{EXPERIMENT}/assign", json={"unit_id": unit}, headers=headers
            )
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "per_s": len(units) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def bulk(
    client: httpx.AsyncClient, headers: dict[str, str], batches: list[list[str]]
) -> dict[str, float]:
    started = time.perf_counter()
    for batch in batches:
        response = await client.post(
            f"/api/v1/experiments/{EXPERIMENT}/assign/bulk",
            json={"units": [{"unit_id": u} for u in batch]},
            headers=headers,
        )
        response.raise_for_status()
    elapsed = time.perf_counter() - started
    return {"units_per_s": sum(map(len, batches)) / elapsed, "request_ms": elapsed / len(batches) * 1000}


async def http_figures(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), port)
        try:
            limits = httpx.Limits(max_keepalive_connections=args.concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{port}", limits=limits, timeout=30
            ) as client:
                await wait_ready(client)
                headers = await setup(client)
                units = [f"single-{i}" for i in range(args.units)]
                first = await single(client, headers, units, args.concurrency)
                repeat = await single(client, headers, units, args.concurrency)
                batches = [[f"bulk-{b}-{i}" for i in range(1000)] for b in range(args.bulk_requests)]
                bulk_first = await bulk(client, headers, batches)
                bulk_repeat = await bulk(client, headers, batches)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "single_first": first,
        "single_repeat": repeat,
        "bulk_first": bulk_first,
        "bulk_repeat": bulk_repeat,
    }


async def service_figures(args: argparse.Namespace) -> dict[str, Any]:
    """The service in-process: ``concurrency`` tasks, one unit per call, each call in its own unit of
    work (the endpoint's session)."""
    from experimently.app import create_app
    from experimently.bootstrap import bootstrap
    from experimently.config import Settings
    from experimently.experiments.schemas import AssignRequest
    from experimently.runtime import build_runtime

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), admin_email=ADMIN[0], admin_password=ADMIN[1], run_jobs=False,
            access_log=False, log_level="WARNING",
        ).resolve()  # fmt: skip
        runtime = build_runtime(settings)
        await bootstrap(runtime, apply_migrations=True)
        app = create_app(settings, runtime=runtime)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await setup(client)
            service = runtime.assignments

            async def one(unit: str) -> None:
                request = [AssignRequest(unit_id=unit)]
                if args.session:  # as the endpoint does today: a unit of work per request
                    async with runtime.db.transaction() as session:
                        answer = await service.assign_many(session, "production", EXPERIMENT, request)
                else:
                    answer = await service.assign_many(None, "production", EXPERIMENT, request)
                assert answer[0].variant is not None

            async def run(units: list[str]) -> dict[str, float]:
                queue = list(reversed(units))

                async def worker() -> None:
                    while queue:
                        await one(queue.pop())

                cpu, started = time.process_time(), time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                return {"per_s": len(units) / elapsed, "cpu_us": cpu / len(units) * 1e6}

            units = [f"service-{i}" for i in range(args.units)]
            first = await run(units)
            repeat = await run(units)
    return {"service_first": first, "service_repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--bulk-requests", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--service", action="store_true", help="the service in-process, no HTTP")
    parser.add_argument("--session", action="store_true", help="--service: a session per call too")
    args = parser.parse_args()
    engine = engine_rate()
    print(f"engine: {engine:,.0f} assignments/s (pure, one process, best of 3)")
    figures = asyncio.run(service_figures(args) if args.service else http_figures(args))
    for name, values in figures.items():
        print(f"{name}: " + ", ".join(f"{k}={v:,.2f}" for k, v in values.items()))
    backend = "postgresql" if os.environ.get("EXPERIMENTLY_DATABASE_URL") else "sqlite"
    print(
        json.dumps(
            {
                "bench": "assign-service" if args.service else "assign",
                "session_per_call": bool(args.service and args.session),
                "loadavg": [round(x, 2) for x in os.getloadavg()],
                "backend": backend,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "engine_assignments_per_s": round(engine),
                **{f"{n}_{k}": round(v, 3) for n, vals in figures.items() for k, v in vals.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
