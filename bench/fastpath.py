"""CPU per request of the hot HTTP endpoints, with the fast path and through FastAPI, in one process.

One runtime (embedded SQLite, access log off) serves two ASGI apps: the normal one (the fast path in
``experimently.fastpath`` answers) and a twin built with ``http_fast_path`` off (FastAPI's routing,
dependencies and validation). Requests are passed to the ASGI callable directly (no sockets, no
uvicorn): what is measured is the application's own CPU per request (``time.process_time``, so other
processes on a shared machine do not count, though they still disturb caches). The two apps are run
in alternating rounds, back to back, and the median round is reported for each.

    .venv/bin/python bench/fastpath.py [--rounds 7] [--requests 2000] [--redis-url redis://.../N]

``--instructions`` counts instead of timing: each workload (fast path only) runs in a child process
under valgrind's callgrind, with instrumentation switched on for the measured requests alone, and the
figure is machine instructions per request. That count does not move with the machine's load or a
neighbour on the same host (wall and CPU times here varied by 25% between runs of the same code), so
it is the figure to compare two versions of the code by; it says nothing about system calls or the
kernel, which the HTTP benches measure.

    .venv/bin/python bench/fastpath.py --instructions [--requests 1000]
    PYTHONPATH=<another checkout>/src .venv/bin/python bench/fastpath.py --instructions   # its code

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_http import evaluate_bodies, flag_config
from experimently.app import create_app
from experimently.bootstrap import bootstrap
from experimently.config import Settings
from experimently.runtime import build_runtime

FLAG_KEY = "bench-checkout"
EXPERIMENT_KEY = "bench-experiment"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password-1"
ASGIApp = Callable[..., Any]


def settings(data_dir: Path, fast: bool, redis_url: str | None = None) -> Settings:
    return Settings(
        redis_url=redis_url,
        data_dir=data_dir,
        secret_key="bench-secret-key-not-for-production-0123456789",
        encryption_keys="dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI=",
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        run_jobs=False,
        access_log=False,
        log_level="WARNING",
        http_fast_path=fast,
    ).resolve()


async def call(app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One request through the ASGI callable; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a client that stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def prepare(app: ASGIApp) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def ok(response: httpx.Response, expected: int) -> dict[str, Any]:
            if response.status_code != expected:
                raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
            data: dict[str, Any] = response.json()
            return data

        form = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        token = await ok(await client.post("/api/v1/auth/token", data=form), 200)
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        flag = (
            await ok(
                await client.post(
                    "/api/v1/feature-flags", json={"key": FLAG_KEY, "name": "B"}, headers=admin
                ),
                201,
            )
        )["data"]
        config = {**flag_config(), "version": flag["version"]}
        await ok(
            await client.put(
                f"/api/v1/feature-flags/{FLAG_KEY}/environments/production", json=config, headers=admin
            ),
            200,
        )
        variants = [
            {"key": "control", "weight": 50, "is_control": True},
            {"key": "treatment", "weight": 50},
        ]
        experiment = {"key": EXPERIMENT_KEY, "name": "B", "variants": variants}
        await ok(await client.post("/api/v1/experiments", json=experiment, headers=admin), 201)
        await ok(await client.post(f"/api/v1/experiments/{EXPERIMENT_KEY}/start", headers=admin), 200)
        body = {"name": "bench", "environment": "production", "scopes": ["evaluate"]}
        key = (await ok(await client.post("/api/v1/api-keys", json=body, headers=admin), 201))["data"]["key"]
        return str(key)


def workloads(api_key: str) -> dict[str, tuple[str, str, list[bytes]]]:
    users = evaluate_bodies(2000)
    batch = json.dumps(
        {"flag_key": FLAG_KEY, "users": [json.loads(b) for b in evaluate_bodies(100)]}
    ).encode()
    units = [json.dumps({"unit_id": f"unit-{i}"}).encode() for i in range(1000)]
    return {
        "evaluate": ("POST", f"/api/v1/feature-flags/{FLAG_KEY}/evaluate", users),
        "sdk_payload": ("GET", "/api/v1/sdk/flags", [b""]),
        "assign_repeat": ("POST", f"/api/v1/experiments/{EXPERIMENT_KEY}/assign", units),
        "batch_100_users": ("POST", "/api/v1/feature-flags/evaluate/batch", [batch]),
    }


async def run(app: ASGIApp, api_key: str, method: str, path: str, bodies: list[bytes], n: int) -> float:
    """CPU microseconds per request over ``n`` requests (every answer must be 200)."""
    headers = [(b"x-api-key", api_key.encode()), (b"content-type", b"application/json")]
    start = time.process_time()
    for i in range(n):
        body = bodies[i % len(bodies)]
        framed = [*headers, (b"content-length", str(len(body)).encode())]
        status = await call(app, method, path, framed, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status}")
    return (time.process_time() - start) / n * 1e6


def instrument(state: str) -> None:
    """Callgrind's counting on or off for this process; blocks on purpose (nothing else may run)."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


async def instructions_child(workload: str, n: int) -> None:
    """In the child under callgrind: set up, warm up, then count ``n`` requests of one workload."""
    data_dir = Path(tempfile.mkdtemp(prefix="experimently-fastpath-"))
    runtime = build_runtime(settings(data_dir, True))
    await bootstrap(runtime, apply_migrations=True)
    app = create_app(settings(data_dir, True), runtime=runtime)
    async with app.router.lifespan_context(app):
        api_key = await prepare(app)
        loads = workloads(api_key)
        method, path, bodies = loads["assign_repeat"]
        await run(app, api_key, method, path, bodies, len(bodies))  # the units' first assignments
        method, path, bodies = loads[workload]
        await run(app, api_key, method, path, bodies, min(n, 500))  # warm-up
        gc.collect()
        gc.freeze()
        gc.disable()  # collections land at different requests in different versions: not counted
        instrument("on")
        await run(app, api_key, method, path, bodies, n)
        instrument("off")


def instructions(args: argparse.Namespace) -> dict[str, Any]:
    """Machine instructions per request of each workload, from callgrind (``--instructions``)."""
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("--instructions needs valgrind (the Debian package valgrind)")
    figures: dict[str, Any] = {}
    for workload in ("evaluate", "assign_repeat", "sdk_payload"):
        with tempfile.TemporaryDirectory(prefix="experimently-callgrind-") as out:
            target = Path(out) / "callgrind.out"
            command = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={target}",
                sys.executable,
                __file__,
                "--requests",
                str(args.requests),
            ]
            env = {**os.environ, "PYTHONHASHSEED": "0", "EXPERIMENTLY_BENCH_CALLGRIND": workload}
            subprocess.run(command, env=env, check=True, capture_output=True)
            totals = [line for line in target.read_text().splitlines() if line.startswith("totals:")]
            per_request = int(totals[-1].split()[1]) // args.requests
        figures[workload] = {"instructions_per_request": per_request}
        print(f"{workload:<14} {per_request:>10,} instructions per request")
    return {
        "bench": "fastpath_instructions",
        "python": platform.python_version(),
        "requests": args.requests,
        **figures,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="experimently-fastpath-"))
    if args.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(args.redis_url)
        await redis.flushdb()
        await redis.aclose()
    runtime = build_runtime(settings(data_dir, True, args.redis_url))
    await bootstrap(runtime, apply_migrations=True)
    fast = create_app(settings(data_dir, True, args.redis_url), runtime=runtime)
    reference = create_app(settings(data_dir, False, args.redis_url), runtime=runtime)
    reference.state.runtime = runtime
    async with fast.router.lifespan_context(fast):
        api_key = await prepare(fast)
        loads = workloads(api_key)
        apps = {"fast_path": fast, "fastapi": reference}
        for name, (method, path, bodies) in loads.items():  # warm-up: caches, first assignments
            for app in apps.values():
                await run(
                    app,
                    api_key,
                    method,
                    path,
                    bodies,
                    min(len(bodies), 1000) if name != "batch_100_users" else 20,
                )
        gc.collect()
        gc.freeze()
        samples: dict[str, dict[str, list[float]]] = {w: {a: [] for a in apps} for w in loads}
        for round_number in range(args.rounds):
            order = list(apps) if round_number % 2 == 0 else list(reversed(apps))
            for name, (method, path, bodies) in loads.items():
                n = args.requests if name != "batch_100_users" else max(args.requests // 50, 10)
                for label in order:
                    samples[name][label].append(await run(apps[label], api_key, method, path, bodies, n))
    figures: dict[str, Any] = {}
    print(f"{'endpoint':<18} {'FastAPI us/req':>15} {'fast path us/req':>17} {'ratio':>7}")
    for name, by_app in samples.items():
        ref = statistics.median(by_app["fastapi"])
        quick = statistics.median(by_app["fast_path"])
        figures[name] = {
            "fastapi_cpu_us": round(ref, 1),
            "fast_path_cpu_us": round(quick, 1),
            "ratio": round(ref / quick, 2),
            "rounds": {k: [round(v, 1) for v in vals] for k, vals in by_app.items()},
        }
        print(f"{name:<18} {ref:>15.1f} {quick:>17.1f} {ref / quick:>7.2f}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; nproc {os.cpu_count()}")
    return {
        "bench": "fastpath",
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
        "rounds": args.rounds,
        "requests": args.requests,
        "redis": bool(args.redis_url),
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000, help="requests per app, endpoint and round")
    parser.add_argument(
        "--redis-url",
        default=None,
        help="a scratch Redis db (flushed): rate limits and the cache as in the production shape",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="machine instructions per request under callgrind, instead of CPU time (see above)",
    )
    args = parser.parse_args()
    import uvloop

    child = os.environ.get("EXPERIMENTLY_BENCH_CALLGRIND")
    if child:
        uvloop.run(instructions_child(child, args.requests))
        return
    figures = instructions(args) if args.instructions else uvloop.run(bench(args))
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
