"""Event ingestion: sustained events/s from HTTP batch requests (1,000 events each) to committed rows,
on PostgreSQL + Redis (production shape) and on embedded SQLite, plus API accept latency P50/P99.

Starts a real ``experimently serve`` subprocess on 127.0.0.1 per shape (PostgreSQL: a separate
database ``experimently_bench``, recreated; Redis db 14, flushed), sends a bounded number of batches
from a few concurrent clients on the same machine, and waits until every event is committed.
Ends with one line of JSON.

    .venv/bin/python bench/ingest.py [--requests 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BENCH = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/experimently_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "bench-admin-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reset_postgres() -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute("DROP DATABASE IF EXISTS experimently_bench WITH (FORCE)")
        await conn.execute("CREATE DATABASE experimently_bench")
    finally:
        await conn.close()
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "experimently"
    return subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


async def track_key(client: httpx.AsyncClient) -> dict[str, str]:
    token = await client.post(
        "/api/v1/auth/token", data={"username": "bench@example.com", "password": PASSWORD}
    )
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "bench", "environment": "production", "scopes": ["track"]},
        headers=auth,
    )
    return {"X-API-Key": key.json()["data"]["key"], "Content-Type": "application/json"}


def bodies(requests: int) -> list[bytes]:
    out = []
    for r in range(requests):
        events = [
            {
                "event_id": f"b{r}-{i}",
                "name": "purchase" if i % 10 == 0 else "page_view",
                "user_id": f"user-{(r * 1000 + i) % 50_000}",
                "experiment_key": "checkout",
                "value": 12.5,
                "properties": {"plan": "pro", "path": "/checkout"},
            }
            for i in range(1000)
        ]
        out.append(json.dumps({"events": events}).encode())
    return out


async def load(
    client: httpx.AsyncClient, headers: dict[str, str], payloads: list[bytes], concurrency: int
) -> list[float]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            while True:
                started = time.perf_counter()
                response = await client.post("/api/v1/events/batch", content=body, headers=headers)
                if response.status_code == 202:
                    latencies.append(time.perf_counter() - started)
                    break
                if response.status_code != 503:
                    raise RuntimeError(response.text)
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")) / 10)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def count_rows(shape: str, data_dir: Path) -> int:
    if shape == "postgres":
        conn = await asyncpg.connect(PG_BENCH)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM events"))
        finally:
            await conn.close()
    with sqlite3.connect(data_dir / "experimently.db") as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


async def run_shape(shape: str, requests: int, concurrency: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    env = {
        "EXPERIMENTLY_DATA_DIR": str(data_dir),
        "EXPERIMENTLY_ADMIN_EMAIL": "bench@example.com",
        "EXPERIMENTLY_ADMIN_PASSWORD": PASSWORD,
        "EXPERIMENTLY_SECRET_KEY": "bench-secret-key-0123456789-not-for-production",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
        "EXPERIMENTLY_ACCESS_LOG": "false",
        "EXPERIMENTLY_API_KEY_RATE_LIMIT": "1000000/minute",
    }
    if shape == "postgres":
        await reset_postgres()
        env |= {
            "EXPERIMENTLY_DATABASE_URL": PG_BENCH.replace("postgresql://", "postgresql+asyncpg://"),
            "EXPERIMENTLY_REDIS_URL": REDIS_URL,
        }
    port = free_port()
    server = start_server(env, port)
    payloads = bodies(requests)
    total = requests * 1000
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client)
            headers = await track_key(client)
            await load(client, headers, payloads[:5], 2)  # warm-up (counted in rows, not in the figure)
            warm = await count_rows(shape, data_dir)
            while warm < 5000:
                await asyncio.sleep(0.05)
                warm = await count_rows(shape, data_dir)
            started = time.perf_counter()
            latencies = await load(client, headers, payloads[5:], concurrency)
            accepted_at = time.perf_counter()
            deadline = started + 300
            stored = await count_rows(shape, data_dir)
            while stored < total and time.perf_counter() < deadline:  # polls another process's database
                await asyncio.sleep(0.05)
                stored = await count_rows(shape, data_dir)
            committed_at = time.perf_counter()
    finally:
        server.terminate()
        server.wait(timeout=60)
    measured = (requests - 5) * 1000
    latencies.sort()
    return {
        "events": measured,
        "stored_all": stored == total,
        "events_per_s": round(measured / (committed_at - started)),
        "accept_events_per_s": round(measured / (accepted_at - started)),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--shapes", default="postgres,sqlite")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for shape in args.shapes.split(","):
        result = await run_shape(shape, args.requests, args.concurrency)
        results[shape] = result
        print(
            f"{shape:9s} {result['events_per_s']:>8,} events/s committed "
            f"(accept {result['accept_events_per_s']:,}/s)  P50 {result['p50_ms']} ms  "
            f"P99 {result['p99_ms']} ms  all stored: {result['stored_all']}"
        )
    print(
        json.dumps({"bench": "ingest", "nproc": os.cpu_count(), "python": sys.version.split()[0], **results})
    )


if __name__ == "__main__":
    asyncio.run(main())
