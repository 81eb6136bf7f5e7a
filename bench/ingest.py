"""Event ingestion: sustained events/s from HTTP batch requests (1,000 events each) to committed rows,
on PostgreSQL + Redis (production shape) and on embedded SQLite, plus API accept latency P50/P99.

Starts a real ``experimently serve`` subprocess on 127.0.0.1 per shape (PostgreSQL: a separate
database ``experimently_bench``, recreated; Redis db 14, flushed), sends a bounded number of batches
from a few concurrent clients on the same machine, and waits until every event is committed.
Shapes: ``postgres`` (one ``serve`` process: API, jobs and the event writer), ``postgres-split``
(``serve`` with ``EXPERIMENTLY_EVENT_WRITER=false`` plus ``--workers`` ``experimently worker``
processes writing), ``sqlite`` (embedded). For each shape it prints the CPU used during the measured
window, in cores: the API process, the writer processes, the load generator, the PostgreSQL backends
of the bench database and Redis, and "other" (the rest of the machine: another job perturbs the run).
Ends with one line of JSON.

    .venv/bin/python bench/ingest.py [--requests 200] [--concurrency 4] [--workers 1]
        [--shapes postgres,postgres-split,sqlite] [--api-workers 1] [--keyed-every 1]
        [--client-timestamps] [--ids time-ordered|sequential|random] [--stored-keys 0] [--stored-events 0]
        [--drop-index NAME ...] [--sql STATEMENT ...]

``--stored-keys N`` fills the key table with N random ids before the measured writes, as the events a
deployment retains would have left it; with it, ``--ids`` shows what the ids' order costs.
``--stored-events N`` puts N events of 1M users in today's partition first, as a busy day leaves it.
Both are PostgreSQL only and end with a ``CHECKPOINT``, so every run starts at the same point of the
checkpoint cycle. ``--drop-index NAME`` (repeatable; PostgreSQL only) drops an index or a primary key
of the bench database after its migrations: what one index costs the whole path (e.g. ``pk_events``,
``ix_events_name_seq``, ``ix_event_keys_occurred_at``). ``--sql STATEMENT`` (repeatable; PostgreSQL
only) runs after the drops: an index of another shape, tried without a migration (e.g. ``--drop-index
ix_events_user_time --sql 'CREATE INDEX ix_events_user ON events (user_id)'``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from experimently_sdk.ids import time_ordered_id

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BENCH = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/experimently_bench")
PG_BENCH_DB = PG_BENCH.rsplit("/", 1)[1]  # dropped and recreated: never point BENCH_PG_URL at a shared one
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "bench-admin-password-1"


def free_port() -> int:
    if os.environ.get("BENCH_PORT"):  # a fixed port (a shared machine may give each user a range)
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reset_postgres() -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    finally:
        await conn.close()
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()


async def store_keys(count: int) -> None:
    """Fill the key table with ``count`` random ids stamped yesterday, as the events a deployment
    retains would have left it, so the measured writes meet a key index larger than the cache."""
    conn = await asyncpg.connect(PG_BENCH)
    try:
        await conn.execute(
            "INSERT INTO event_keys (event_id, occurred_at) SELECT md5(i::text || '-stored'), "
            "now() - interval '1 day' FROM generate_series(1, $1) AS i",
            count,
        )
        await conn.execute("VACUUM ANALYZE event_keys")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def reshape(drop: list[str], statements: list[str]) -> None:
    """Drop each named index of the bench database, or the constraint of that name (a primary key),
    then run each statement (an index of another shape), on one connection."""
    conn = await asyncpg.connect(PG_BENCH)
    try:
        for name in drop:
            table = await conn.fetchval(
                "SELECT conrelid::regclass::text FROM pg_constraint WHERE conname = $1", name
            )
            if table:
                await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            else:
                await conn.execute(f'DROP INDEX "{name}"')
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def store_events(count: int) -> int:
    """Fill today's partition with ``count`` events of 1M users over the last hour, as a busy day
    leaves it by evening, so the measured writes meet indexes of that size (the user index above all).
    Returns the stored events' highest ``seq``."""
    conn = await asyncpg.connect(PG_BENCH)
    try:
        await conn.execute(
            "INSERT INTO events (event_id, name, user_id, environment, experiment_key, value, properties, "
            "occurred_at, ts_us, received_at) "
            "SELECT md5(i::text || '-event'), CASE WHEN i % 10 = 0 THEN 'purchase' ELSE 'page_view' END, "
            "'user-' || (random() * 1000000)::int, 'production', 'checkout', 12.5, '{}', t, "
            "(extract(epoch FROM t) * 1000000)::int8, now() "
            "FROM (SELECT i, greatest(date_trunc('day', now()), now() - random() * interval '1 hour') AS t "
            "FROM generate_series(1, $1) AS i) AS g",
            count,
        )
        await conn.execute("VACUUM ANALYZE events")
        await conn.execute("CHECKPOINT")
        return int(await conn.fetchval("SELECT max(seq) FROM events"))
    finally:
        await conn.close()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "experimently"
    return subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "experimently"
    return subprocess.Popen(
        [str(exe), "worker"], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK  # minus idle and iowait


async def service_pids(shape: str) -> dict[str, list[int]]:
    """PostgreSQL backends of the bench database (autovacuum included), PostgreSQL's shared writers
    (WAL writer, checkpointer, background writer: they also serve other databases), the Redis server."""
    if not shape.startswith("postgres"):
        return {}
    conn = await asyncpg.connect(PG_BENCH)
    try:
        rows = await conn.fetch(
            "SELECT pid, datname, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    redis = Redis.from_url(REDIS_URL)
    try:
        info = await redis.info("server")
    finally:
        await redis.aclose()
    shared = {"walwriter", "checkpointer", "background writer"}
    return {
        "postgres": [int(r["pid"]) for r in rows if r["datname"] == PG_BENCH_DB],
        "pg_shared": [int(r["pid"]) for r in rows if r["backend_type"] in shared],
        "redis": [int(info["process_id"])],
    }


class CpuMeter:
    """CPU used by each group of processes between ``start`` and ``stop``, in cores. A process that
    appears during the window (a new backend, autovacuum) counts from its start."""

    def __init__(self, shape: str, fixed: dict[str, list[int]]) -> None:
        self.shape, self.fixed = shape, fixed

    async def groups(self) -> dict[str, list[int]]:
        return self.fixed | await service_pids(self.shape)

    def sample(self, groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
        return {name: {pid: proc_cpu(pid) for pid in pids} for name, pids in groups.items()}

    async def start(self) -> None:
        self.first = self.sample(await self.groups())
        self.client, self.machine = time.process_time(), machine_busy()
        self.started = time.perf_counter()

    async def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        last = self.sample(await self.groups())
        used = {
            name: sum(cpu - self.first.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items()) / wall
            for name, pids in last.items()
        }
        used["client"] = (time.process_time() - self.client) / wall
        used["other"] = (machine_busy() - self.machine) / wall - sum(used.values())
        return {name: round(value, 2) for name, value in used.items()}


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # 60 s: start-up includes migrations, slow on a loaded machine
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
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


def body(r: int, keyed_every: int = 1, client_times: bool = False, ids: str = "time-ordered") -> bytes:
    """Request ``r``'s batch: 1,000 events (every tenth a purchase), 50,000 users in all; every
    ``keyed_every``-th event carries an experiment key (1, the default and the figures of record: all
    of them; SDK ``track`` events carry none, exposures do). With ``client_times`` each event carries
    its own ``timestamp``, spread over the last hour as many clients' buffered events are (the default,
    none, stamps every event with the time of its request). ``ids``: ``sequential`` (``b<r>-<i>``, the
    figures of record before the ninth round), ``random`` (128 random bits in hex, as the SDKs'
    ``uuid4`` ids were: each key lands at a random place in the key index) or ``time-ordered`` (the
    default: what the SDKs and the server make since, UUIDv7, the time first)."""
    hour_ago = time.time() - 3600
    draw = random.Random(r)
    events = [
        {
            "event_id": _event_id(ids, r, i, draw),
            "name": "purchase" if i % 10 == 0 else "page_view",
            "user_id": f"user-{(r * 1000 + i) % 50_000}",
            "value": 12.5,
            "properties": {"plan": "pro", "path": "/checkout"},
        }
        | ({"experiment_key": "checkout"} if i % keyed_every == 0 else {})
        | ({"timestamp": _iso(hour_ago + (r * 1000 + i) * 7919 % 3600)} if client_times else {})
        for i in range(1000)
    ]
    return json.dumps({"events": events}).encode()


def _event_id(ids: str, r: int, i: int, draw: random.Random) -> str:
    if ids == "sequential":
        return f"b{r}-{i}"
    return time_ordered_id() if ids == "time-ordered" else f"{draw.getrandbits(128):032x}"


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def bodies(
    requests: int, keyed_every: int = 1, client_times: bool = False, ids: str = "time-ordered"
) -> list[bytes]:
    return [body(r, keyed_every, client_times, ids) for r in range(requests)]


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


async def count_rows(shape: str, data_dir: Path, after_seq: int = 0) -> int:
    """Events stored by the bench's requests: those with ``seq`` above ``after_seq`` (the events
    ``--stored-events`` put there are below it), read through the primary key."""
    if shape.startswith("postgres"):
        conn = await asyncpg.connect(PG_BENCH)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM events WHERE seq > $1", after_seq))
        finally:
            await conn.close()
    with sqlite3.connect(data_dir / "experimently.db") as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


async def run_shape(
    shape: str,
    requests: int,
    concurrency: int,
    workers: int,
    api_workers: int,
    keyed_every: int = 1,
    client_times: bool = False,
    ids: str = "time-ordered",
    stored_keys: int = 0,
    stored_events: int = 0,
    drop: list[str] | None = None,
    statements: list[str] | None = None,
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    env = {
        "EXPERIMENTLY_DATA_DIR": str(data_dir),
        "EXPERIMENTLY_ADMIN_EMAIL": "bench@example.com",
        "EXPERIMENTLY_ADMIN_PASSWORD": PASSWORD,
        "EXPERIMENTLY_SECRET_KEY": "bench-secret-key-0123456789-not-for-production",
        "EXPERIMENTLY_ENCRYPTION_KEYS": "YmVuY2gtZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc4OWE=",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
        "EXPERIMENTLY_ACCESS_LOG": "false",
        "EXPERIMENTLY_API_KEY_RATE_LIMIT": "1000000/minute",
        # serve's default with PostgreSQL and Redis is one HTTP process per core (children of the
        # supervisor, whose CPU this script would not see): the shapes are defined with one
        "EXPERIMENTLY_WORKERS": str(api_workers),
    }
    if shape.startswith("postgres"):
        await reset_postgres()
        env |= {
            "EXPERIMENTLY_DATABASE_URL": PG_BENCH.replace("postgresql://", "postgresql+asyncpg://"),
            "EXPERIMENTLY_REDIS_URL": REDIS_URL,
        }
    split = shape == "postgres-split"
    port = free_port()
    server = start_server(env | ({"EXPERIMENTLY_EVENT_WRITER": "false"} if split else {}), port)
    writers: list[subprocess.Popen[bytes]] = []
    payloads = bodies(requests, keyed_every, client_times, ids)
    total = requests * 1000
    mark = 0  # the highest seq of --stored-events' events
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client, server)
            if (drop or statements) and shape.startswith("postgres"):  # after serve --migrate, before writes
                await reshape(drop or [], statements or [])
            if split:  # after serve --migrate
                writers = [start_worker(env) for _ in range(workers)]
            headers = await track_key(client)
            if stored_keys and shape.startswith("postgres"):  # PostgreSQL only
                await store_keys(stored_keys)
            if stored_events and shape.startswith("postgres"):
                mark = await store_events(stored_events)
            await load(client, headers, payloads[:5], 2)  # warm-up (counted in rows, not in the figure)
            warm = await count_rows(shape, data_dir, mark)
            while warm < 5000:
                await asyncio.sleep(0.05)
                warm = await count_rows(shape, data_dir, mark)
            meter = CpuMeter(shape, {"api": [server.pid], "writers": [w.pid for w in writers]})
            await meter.start()
            started = time.perf_counter()
            latencies = await load(client, headers, payloads[5:], concurrency)
            accepted_at = time.perf_counter()
            deadline = started + 300
            stored = await count_rows(shape, data_dir, mark)
            while stored < total and time.perf_counter() < deadline:  # polls another process's database
                await asyncio.sleep(0.05)
                stored = await count_rows(shape, data_dir, mark)
            committed_at = time.perf_counter()
            cpu = await meter.stop()
    finally:
        for process in [server, *writers]:
            process.terminate()
        for process in [server, *writers]:
            process.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)  # its generated secrets and the SQLite file too
    measured = (requests - 5) * 1000
    latencies.sort()
    return {
        "events": measured,
        "stored_all": stored == total,
        "events_per_s": round(measured / (committed_at - started)),
        "accept_events_per_s": round(measured / (accepted_at - started)),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "cpu_cores": cpu,
        "load_avg_1m": os.getloadavg()[0],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="writer processes of postgres-split")
    parser.add_argument("--shapes", default="postgres,postgres-split,sqlite")
    parser.add_argument(
        "--api-workers", type=int, default=1, help="HTTP processes of serve (CPU counted for 1 only)"
    )
    parser.add_argument(
        "--keyed-every",
        type=int,
        default=1,
        help="every N-th event carries an experiment key (default 1: all, as in the figures of record)",
    )
    parser.add_argument(
        "--client-timestamps",
        action="store_true",
        help="each event carries its own timestamp, spread over the last hour (default: none)",
    )
    parser.add_argument(
        "--ids",
        choices=["sequential", "random", "time-ordered"],
        default="time-ordered",
        help="event ids: time-ordered (UUIDv7, what the SDKs send; default), sequential b<r>-<i> "
        "(the figures of record before 6 December 2026) or random hex (uuid4)",
    )
    parser.add_argument(
        "--stored-keys",
        type=int,
        default=0,
        help="random ids already in the key table before the measured writes (default 0: none)",
    )
    parser.add_argument(
        "--stored-events",
        type=int,
        default=0,
        help="events already in today's partition before the measured writes (default 0: none)",
    )
    parser.add_argument(
        "--drop-index",
        action="append",
        default=[],
        help="drop this index or primary key of the bench database first (repeatable; PostgreSQL only)",
    )
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        help="run this statement on the bench database after the drops (repeatable; PostgreSQL only)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for shape in args.shapes.split(","):
        result = await run_shape(
            shape,
            args.requests,
            args.concurrency,
            args.workers,
            args.api_workers,
            args.keyed_every,
            args.client_timestamps,
            args.ids,
            args.stored_keys,
            args.stored_events,
            args.drop_index,
            args.sql,
        )
        results[shape] = result
        print(
            f"{shape:14s} {result['events_per_s']:>8,} events/s committed "
            f"(accept {result['accept_events_per_s']:,}/s)  P50 {result['p50_ms']} ms  "
            f"P99 {result['p99_ms']} ms  all stored: {result['stored_all']}  "
            f"load {result['load_avg_1m']:.2f}"
        )
        print(f"{'':14s} CPU (cores): " + ", ".join(f"{k} {v}" for k, v in result["cpu_cores"].items()))
    print(
        json.dumps(
            {
                "bench": "ingest",
                "nproc": os.cpu_count(),
                "python": sys.version.split()[0],
                "workers": args.workers,
                "keyed_every": args.keyed_every,
                "client_timestamps": args.client_timestamps,
                "ids": args.ids,
                "stored_keys": args.stored_keys,
                "stored_events": args.stored_events,
                "dropped_indexes": args.drop_index,
                "sql": args.sql,
                **results,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
