"""The flag evaluation endpoint over HTTP on loopback, against a real server process.

Budget: ``POST /api/v1/feature-flags/{key}/evaluate`` at a steady 1,000 req/s,
P50 <= 1 ms and P99 <= 5 ms; one batch request of 1,000 users >= 100,000 users/s.

Run: .venv/bin/python bench/eval_http.py   (``--help`` for the knobs)

What it does:

1. starts ``experimently serve`` on a free loopback port with a temporary data directory (embedded
   SQLite, no Redis, access log off), waits for ``/health``, logs in as the admin, creates a flag
   with two rules and a 50/50 rollout fallthrough, enables it in production, creates an
   ``evaluate`` API key;
2. paced (open-loop) load: request i is *scheduled* at ``start + i / rate``; a pacing thread wakes at
   each scheduled time (``time.sleep``, sub-millisecond) and hands the request to the event loop,
   which sends it on an idle keep-alive connection (or queues it until one is free). Latency is
   measured from the scheduled time to the last byte of the response, so a slow server cannot hide
   its queueing (no coordinated omission). The latency from the actual send, and the pacing lag
   (send minus schedule, the client's own share), are reported too;
3. maximum throughput: N keep-alive connections, each sending its next request as soon as the
   previous answer arrives, for a few seconds per N;
4. batch: ``POST /api/v1/feature-flags/evaluate/batch`` with 1,000 users (each with a context), one
   request at a time.

The client is a minimal asyncio HTTP/1.1 keep-alive client (a Protocol, pre-encoded requests), so the
load generator stays cheap; client and server CPU (user+system, per wall second) are reported for
every phase. Every loop is bounded in count and time; the server is stopped at the end, also on error.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import httpx

HOST = "127.0.0.1"
FLAG_KEY = "bench-checkout"
EXPERIMENT_KEY = "bench-experiment"
ADMIN_EMAIL = "bench-admin@example.com"
COUNTRIES = ["DE", "FR", "US", "GB", "BR", "JP", "IN", "NL"]
PLANS = ["free", "pro", "enterprise"]
DISTINCT_USERS = 20_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------- client


class HttpConnection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection, one request at a time, responses with Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = exc or ConnectionResetError("server closed the connection")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.closed)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            waiter.set_exception(ValueError("response without Content-Length"))
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else None])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        self.waiter = None
        waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.closed is not None:
            raise self.closed
        assert self.transport is not None and self.waiter is None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(HttpConnection, HOST, port)
    return protocol


def raw_request(method: str, path: str, port: int, api_key: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", f"X-API-Key: {api_key}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def evaluate_bodies(count: int) -> list[bytes]:
    """Distinct users with a realistic context; some match rule 1, some rule 2, most the rollout."""
    bodies = []
    for i in range(count):
        context = {
            "country": COUNTRIES[i % len(COUNTRIES)],
            "plan": PLANS[i % len(PLANS)],
            "app_version": f"3.{i % 9}.{i % 4}",
            "email": f"person{i}@{'example.com' if i % 10 else 'bench.internal'}",
        }
        bodies.append(json.dumps({"user_id": f"user-{i}", "context": context}).encode())
    return bodies


# -------------------------------------------------------------------------------------------- figures


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    figures = {f"p{q}": percentile(ordered, q) for q in (50, 90, 99, 99.9)}
    figures["max"] = ordered[-1] if ordered else float("nan")
    figures["mean"] = sum(ordered) / len(ordered) if ordered else float("nan")
    return {k.replace(".", "_"): round(v * 1000, 3) for k, v in figures.items()}


def machine_busy() -> float:
    """CPU seconds spent by the whole machine (every core, every process) since boot."""
    jiffies = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    return (sum(jiffies[:8]) - idle) / CLK_TCK


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (uvicorn's workers under ``serve --workers N``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@dataclass
class CpuMeter:
    """Client (this process, all threads), server (its pid) and everything else on the machine
    ("other": another job on the box skews the figures), in CPU seconds per wall second."""

    server_pid: int
    started: float = field(default_factory=time.perf_counter)
    client0: float = 0.0
    server0: float = 0.0
    machine0: float = 0.0

    wait0: float = 0.0

    def __post_init__(self) -> None:
        self.client0, self.server0, self.machine0 = self._client(), self._server(), machine_busy()
        self.wait0 = self._waiting()

    def _waiting(self) -> float:
        """Seconds the server's threads spent runnable but not running (``/proc/<pid>/task/*/schedstat``,
        second field): time a busy machine took from it, whatever the server itself did."""
        total = 0
        for pid in [self.server_pid, *children(self.server_pid)]:
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    total += int((task / "schedstat").read_text().split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        return total / 1e9

    def _client(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _server(self) -> float:
        """The server's CPU time, its live child processes included (``serve --workers N``)."""
        total = 0.0
        for pid in [self.server_pid, *children(self.server_pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        return total

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        client, server = self._client() - self.client0, self._server() - self.server0
        other = machine_busy() - self.machine0 - client - server
        return {
            "client_cpu": round(client / wall, 2),
            "server_cpu": round(server / wall, 2),
            "other_cpu": round(max(0.0, other) / wall, 2),
            "server_runqueue_wait": round((self._waiting() - self.wait0) / wall, 3),
        }


async def settle(server_pid: int, limit: float = 30.0) -> float:
    """Wait until the server is idle (under 5% of a core over half a second, at most ``limit``
    seconds); returns the seconds waited. A phase after the first assignments would otherwise pay
    for their exposure events, still being written in the background, in its own CPU per request."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        meter = CpuMeter(server_pid)
        await asyncio.sleep(0.5)
        if meter.read()["server_cpu"] < 0.05:
            break
    return round(time.perf_counter() - started, 1)


async def gc_pauses(port: int) -> dict[str, float]:
    """The server's ``experimently_gc_pause_seconds``: count, total seconds and pauses over 20 ms."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as client:
        text = (await client.get("/metrics")).text
    figures: dict[str, float] = {"count": 0.0, "seconds": 0.0, "over_20ms": 0.0}
    for line in text.splitlines():
        if not line.startswith("experimently_gc_pause_seconds"):
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("experimently_gc_pause_seconds_count"):
            figures["count"] += float(value)
            figures["over_20ms"] += float(value)
        elif name.startswith("experimently_gc_pause_seconds_sum"):
            figures["seconds"] += float(value)
        elif 'le="0.02"' in name:
            figures["over_20ms"] -= float(value)
    return figures


# --------------------------------------------------------------------------------------------- phases


async def paced(
    port: int, requests: list[bytes], rate: float, duration: float, max_inflight: int, server_pid: int
) -> dict[str, Any]:
    """Open loop: request i is due at start + i/rate whatever happened to the previous ones."""
    loop = asyncio.get_running_loop()
    connections = [await connect(port) for _ in range(max_inflight)]
    idle = list(connections)  # LIFO: the warmest connection first
    queue: list[tuple[int, float]] = []  # due requests waiting for a free connection
    total = int(rate * duration)
    from_schedule: list[float] = []
    from_send: list[float] = []
    lag: list[float] = []
    errors: list[str] = []
    finished = asyncio.Event()
    done_count = 0
    max_queue = 0

    async def run(conn: HttpConnection, i: int, due: float) -> None:
        nonlocal done_count
        while True:
            if conn.closed is not None:  # idle past the server's keep-alive timeout: a new one
                conn = await connect(port)
            sent = time.perf_counter()
            lag.append(sent - due)
            try:
                status, _ = await conn.request(requests[i % len(requests)])
                if status != 200:
                    errors.append(f"status {status}")
            except Exception as exc:  # a broken connection fails the request, not the benchmark
                errors.append(repr(exc))
                conn = await connect(port)
            end = time.perf_counter()
            from_schedule.append(end - due)
            from_send.append(end - sent)
            done_count += 1
            if done_count == total:
                finished.set()
            if not queue:
                idle.append(conn)
                return
            i, due = queue.pop(0)

    tasks: set[asyncio.Task[None]] = set()

    def fire(i: int, due: float) -> None:
        nonlocal max_queue
        if idle:
            task = loop.create_task(run(idle.pop(), i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            queue.append((i, due))
            max_queue = max(max_queue, len(queue))

    start = time.perf_counter() + 0.05
    stop_pacer = threading.Event()

    def pacer() -> None:
        for i in range(total):
            if stop_pacer.is_set():
                return
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            loop.call_soon_threadsafe(fire, i, due)

    meter = CpuMeter(server_pid)
    thread = threading.Thread(target=pacer, name="pacer", daemon=True)
    thread.start()
    try:
        await asyncio.wait_for(finished.wait(), timeout=duration + 30)
    finally:
        stop_pacer.set()
        thread.join(timeout=5)
        for conn in connections:
            conn.close()
    elapsed = time.perf_counter() - start
    return {
        "target_rate": rate,
        "requests": total,
        "achieved_rate": round(total / elapsed, 1),
        "errors": len(errors),
        "error_sample": errors[:3],
        "latency_from_schedule_ms": summary_ms(from_schedule),
        "latency_from_send_ms": summary_ms(from_send),
        "pacing_lag_ms": summary_ms(lag),
        "max_queued": max_queue,
        "max_inflight": max_inflight,
        **meter.read(),
    }


async def closed_loop(
    port: int, requests: list[bytes], connections: int, duration: float, server_pid: int
) -> dict[str, Any]:
    """N connections, each sending its next request as soon as the previous answer is in."""
    conns = [await connect(port) for _ in range(connections)]
    latencies: list[float] = []
    errors: list[str] = []
    meter = CpuMeter(server_pid)
    start = time.perf_counter()
    deadline = start + duration

    sent_by = [0] * connections

    async def worker(w: int) -> None:
        conn = conns[w]
        i = w
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            status, _ = await conn.request(requests[i % len(requests)])
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors.append(f"status {status}")
            i += connections
            sent_by[w] += 1

    try:
        await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(connections))), duration + 30)
    finally:
        for conn in conns:
            conn.close()
    elapsed = time.perf_counter() - start
    cpu = meter.read()
    return {
        "connections": connections,
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed),
        "errors": len(errors),
        "latency_ms": summary_ms(latencies),
        **cpu,
        # the server's CPU per answered request: the figure least disturbed by a busy machine
        "server_cpu_us_per_request": round(cpu["server_cpu"] * elapsed / max(len(latencies), 1) * 1e6, 1),
        # requests[:covered] were all sent (worker w sends w, w + N, ...): for a list of distinct
        # units, the units a later phase can repeat
        "covered": min(min(sent_by) * connections, len(requests)),
    }


async def batch(port: int, api_key: str, users: int, count: int, server_pid: int) -> dict[str, Any]:
    payloads = []
    for r in range(min(count, 5)):
        people = [
            {
                "user_id": f"batch-{r}-{i}",
                "context": {
                    "country": COUNTRIES[i % len(COUNTRIES)],
                    "plan": PLANS[i % len(PLANS)],
                    "app_version": f"3.{i % 9}.{i % 4}",
                },
            }
            for i in range(users)
        ]
        body = json.dumps({"flag_key": FLAG_KEY, "users": people}).encode()
        payloads.append(raw_request("POST", "/api/v1/feature-flags/evaluate/batch", port, api_key, body))
    conn = await connect(port)
    try:
        status, body = await asyncio.wait_for(conn.request(payloads[0]), 30)  # warm-up, and check it
        results = json.loads(body)["data"]["results"]
        assert status == 200 and len(results) == users, (status, body[:300])
        latencies: list[float] = []
        meter = CpuMeter(server_pid)
        started = time.perf_counter()
        for r in range(count):
            if time.perf_counter() - started > 60:
                break
            sent = time.perf_counter()
            status, body = await asyncio.wait_for(conn.request(payloads[r % len(payloads)]), 30)
            latencies.append(time.perf_counter() - sent)
            assert status == 200, (status, body[:300])
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    lat = summary_ms(latencies)
    return {
        "users_per_request": users,
        "requests": len(latencies),
        "request_bytes": len(payloads[0]),
        "response_bytes": len(body),
        "users_per_s": round(users * len(latencies) / elapsed),
        "users_per_s_at_p50": round(users / (lat["p50"] / 1000)),
        "latency_ms": lat,
        **meter.read(),
    }


# --------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(port: int, workers: int | None = None) -> list[str]:
    script = Path(sys.executable).parent / "experimently"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "experimently.cli"]
    extra = ["--workers", str(workers), "--no-migrate"] if workers else []
    return [*base, "serve", "--host", HOST, "--port", str(port), *extra]


async def production_env(args: argparse.Namespace) -> dict[str, str]:
    """``--workers N``: PostgreSQL and Redis (several processes need them), schema made anew."""
    if not (args.database_url and args.redis_url):
        raise SystemExit("--workers needs --database-url and --redis-url (or EXPERIMENTLY_TEST_*)")
    env = {
        "EXPERIMENTLY_DATABASE_URL": args.database_url,
        "EXPERIMENTLY_REDIS_URL": args.redis_url,
        "EXPERIMENTLY_SECRET_KEY": secrets.token_urlsafe(48),
        "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",  # bench key
    }

    async def reset() -> None:
        from redis.asyncio import Redis
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(args.database_url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        redis = Redis.from_url(args.redis_url)
        await redis.flushdb()
        await redis.aclose()

    await reset()
    return env


def stop(proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; close the process's log."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    log.close()


@contextlib.contextmanager
def running_server(
    port: int,
    data_dir: Path,
    password: str,
    workers: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIMENTLY_")}
    env.update(extra_env or {})
    env.update(
        EXPERIMENTLY_DATA_DIR=str(data_dir),
        EXPERIMENTLY_ADMIN_EMAIL=ADMIN_EMAIL,
        EXPERIMENTLY_ADMIN_PASSWORD=password,
        EXPERIMENTLY_ACCESS_LOG="false",
        EXPERIMENTLY_LOG_LEVEL="WARNING",
        # the bench measures the server, not the API key's limit: the default 200,000 requests a
        # minute (3,333/s sustained) is below one process's rate on a quiet machine, and its 429s
        # would be counted as errors of the later phases
        EXPERIMENTLY_API_KEY_RATE_LIMIT="1000000000/minute",
    )
    log = (data_dir / "server.log").open("wb")
    if workers:
        subprocess.run([*server_command(port)[:1], "migrate"], env=env, check=True, stdout=log, stderr=log)
    proc = subprocess.Popen(server_command(port, workers), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    except BaseException:
        log.flush()
        tail = (data_dir / "server.log").read_text(errors="replace")[-3000:]
        print(f"--- server output (tail) ---\n{tail}\n---", file=sys.stderr)
        raise
    finally:
        stop(proc, log)


def loaded_modules(pid: int) -> dict[str, bool]:
    """Which event loop and HTTP parser the server uses (uvicorn picks them when installed); under
    ``--workers N`` the workers serve, so their maps are read, not the supervisor's."""
    maps = ""
    for process in children(pid) or [pid]:
        with contextlib.suppress(OSError):
            maps += Path(f"/proc/{process}/maps").read_text()
    return {"uvloop": "uvloop" in maps, "httptools": "httptools" in maps}


async def wait_healthy(client: httpx.AsyncClient, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/health", timeout=1)).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("server did not become healthy")


def flag_config() -> dict[str, Any]:
    """Two rules (EU enterprise customers; internal staff on recent app versions), then 50/50."""
    return {
        "enabled": True,
        "rules": [
            {
                "id": "eu-enterprise",
                "conditions": [
                    {"attribute": "country", "operator": "in", "values": ["DE", "FR", "NL", "ES", "IT"]},
                    {"attribute": "plan", "operator": "eq", "values": ["enterprise"]},
                ],
                "serve": {"variation": "on"},
            },
            {
                "id": "staff-recent",
                "conditions": [
                    {"attribute": "email", "operator": "ends_with", "values": ["@bench.internal"]},
                    {"attribute": "app_version", "operator": "semver_gte", "values": ["3.4.0"]},
                ],
                "serve": {"variation": "on"},
            },
        ],
        "fallthrough": {
            "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
        },
    }


async def prepare(client: httpx.AsyncClient, password: str) -> str:
    """Log in, create and enable the flag in production, create an ``evaluate`` key; returns the key."""

    def ok(response: httpx.Response, expected: int) -> dict[str, Any]:
        if response.status_code != expected:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
        data: dict[str, Any] = response.json()
        return data

    token = ok(
        await client.post("/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": password}), 200
    )
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    flag = ok(
        await client.post(
            "/api/v1/feature-flags",
            json={"key": FLAG_KEY, "name": "Bench checkout", "tags": ["bench"]},
            headers=admin,
        ),
        201,
    )["data"]
    ok(
        await client.put(
            f"/api/v1/feature-flags/{FLAG_KEY}/environments/production",
            json={**flag_config(), "version": flag["version"]},
            headers=admin,
        ),
        200,
    )
    variants = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
    experiment = {"key": EXPERIMENT_KEY, "name": "Bench experiment", "variants": variants}
    ok(await client.post("/api/v1/experiments", json=experiment, headers=admin), 201)
    ok(await client.post(f"/api/v1/experiments/{EXPERIMENT_KEY}/start", headers=admin), 200)
    key = ok(
        await client.post(
            "/api/v1/api-keys",
            json={"name": "bench", "environment": "production", "scopes": ["evaluate"]},
            headers=admin,
        ),
        201,
    )["data"]["key"]
    return str(key)


async def check_answers(client: httpx.AsyncClient, api_key: str) -> dict[str, int]:
    """The flag answers as configured: rule 1, rule 2 and the rollout all occur."""
    reasons: dict[str, int] = {}
    for body in evaluate_bodies(200):
        response = await client.post(
            f"/api/v1/feature-flags/{FLAG_KEY}/evaluate",
            content=body,
            headers={"X-API-Key": api_key, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        label = data["reason"] + (f":{data['rule_id']}" if data.get("rule_id") else "")
        reasons[label] = reasons.get(label, 0) + 1
    expected = {"TARGETING_MATCH:eu-enterprise", "TARGETING_MATCH:staff-recent", "SPLIT"}
    assert expected <= set(reasons), reasons
    return reasons


# ----------------------------------------------------------------------------------------------- main


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="paced phase: requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="paced phase: seconds")
    parser.add_argument("--max-inflight", type=int, default=64, help="paced phase: connections")
    parser.add_argument(
        "--connections", default="1,8,32", help="throughput phase: comma-separated connection counts"
    )
    parser.add_argument("--throughput-seconds", type=float, default=5.0, help="seconds per count")
    parser.add_argument("--endpoint-seconds", type=float, default=4.0, help="SDK payload and assign phases")
    parser.add_argument("--endpoint-connections", type=int, default=8)
    parser.add_argument("--batch-users", type=int, default=1000)
    parser.add_argument("--batch-requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3000, help="requests before measuring")
    parser.add_argument("--no-uvloop", action="store_true", help="client on the default asyncio loop")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="serve --workers N in the production shape (PostgreSQL + Redis; default: embedded, one process)",
    )
    parser.add_argument("--no-fast-path", action="store_true", help="serve with the HTTP fast path off")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--database-url", default=os.environ.get("EXPERIMENTLY_TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("EXPERIMENTLY_TEST_REDIS_URL"))
    return parser.parse_args()


def pick_loop(default_only: bool) -> tuple[Callable[[Any], Any], str]:
    if not default_only:
        try:
            import uvloop

            return uvloop.run, "uvloop"
        except ImportError:
            pass
    return asyncio.run, "asyncio"


def show_latency(label: str, figures: dict[str, float]) -> None:
    print(
        f"  {label:<22} p50 {figures['p50']} ms  p90 {figures['p90']}  p99 {figures['p99']}  "
        f"p99.9 {figures['p99_9']}  max {figures['max']}"
    )


def show_cpu(figures: dict[str, Any]) -> str:
    return (
        f"cpu client {figures['client_cpu']} server {figures['server_cpu']} other {figures['other_cpu']}"
        f" (server waiting for a core {figures.get('server_runqueue_wait', 0.0)})"
    )


async def measure(
    args: argparse.Namespace, port: int, proc: subprocess.Popen[bytes], api_key: str
) -> dict[str, Any]:
    path = f"/api/v1/feature-flags/{FLAG_KEY}/evaluate"
    requests = [raw_request("POST", path, port, api_key, b) for b in evaluate_bodies(DISTINCT_USERS)]

    meter = CpuMeter(proc.pid)
    await asyncio.sleep(2.0)
    idle = meter.read()
    print(f"idle 2 s: {show_cpu(idle)} (load average {os.getloadavg()[0]:.2f})")
    warm = await closed_loop(port, requests[: args.warmup], 4, 2.0, proc.pid)
    print(f"warm-up: {warm['requests']} requests")

    pauses_before = await gc_pauses(port)
    steady = await paced(port, requests, args.rate, args.duration, args.max_inflight, proc.pid)
    steady["gc_pauses"] = {
        k: round(v - pauses_before.get(k, 0.0), 4) for k, v in (await gc_pauses(port)).items()
    }
    print(
        f"paced {args.rate:.0f} req/s for {args.duration:.0f} s: {steady['requests']} requests, "
        f"achieved {steady['achieved_rate']} req/s, errors {steady['errors']}, "
        f"max queued {steady['max_queued']}; {show_cpu(steady)}"
    )
    show_latency("latency from schedule", steady["latency_from_schedule_ms"])
    show_latency("latency from send", steady["latency_from_send_ms"])
    show_latency("pacing lag (client)", steady["pacing_lag_ms"])
    print(
        f"  server runnable but not running {steady['server_runqueue_wait']:.3f} of the time; "
        f"GC pauses >= 1 ms during the phase: {steady['gc_pauses']}"
    )

    throughput = []
    for n in (int(x) for x in args.connections.split(",") if x.strip()):
        result = await closed_loop(port, requests, n, args.throughput_seconds, proc.pid)
        throughput.append(result)
        lt = result["latency_ms"]
        print(
            f"throughput, {n:>3} connections: {result['req_per_s']:>6,} req/s  p50 {lt['p50']} ms  "
            f"p99 {lt['p99']} ms  errors {result['errors']}  "
            f"server {result['server_cpu_us_per_request']} us CPU/request  {show_cpu(result)}"
        )

    # the other hot paths: the SDK payload and assignment (first, then repeats)
    endpoints: dict[str, dict[str, Any]] = {}
    units = [json.dumps({"unit_id": f"unit-{i}"}).encode() for i in range(DISTINCT_USERS)]
    assign = f"/api/v1/experiments/{EXPERIMENT_KEY}/assign"
    for name, method, target, bodies in (
        ("sdk_payload", "GET", "/api/v1/sdk/flags", [None]),
        ("assign", "POST", assign, units),  # distinct units: first assignments (a write each)
        ("assign_repeat", "POST", assign, units),  # the units the phase before assigned: sticky reads
    ):
        if name == "assign_repeat":
            bodies = bodies[: max(endpoints["assign"]["covered"], 1)]
        wanted = [raw_request(method, target, port, api_key, b) for b in bodies]
        settled = await settle(proc.pid)
        result = await closed_loop(port, wanted, args.endpoint_connections, args.endpoint_seconds, proc.pid)
        result["settled_s"] = settled
        endpoints[name] = result
        lt = result["latency_ms"]
        print(
            f"{name}, {args.endpoint_connections} connections: {result['req_per_s']:>6,} req/s  "
            f"p50 {lt['p50']} ms  p99 {lt['p99']} ms  errors {result['errors']}  "
            f"server {result['server_cpu_us_per_request']} us CPU/request  {show_cpu(result)}  "
            f"(after {settled} s for the server to settle)"
        )

    batched = await batch(port, api_key, args.batch_users, args.batch_requests, proc.pid)
    print(
        f"batch of {args.batch_users} users x {batched['requests']} requests "
        f"({batched['request_bytes']:,} B in, {batched['response_bytes']:,} B out): "
        f"{batched['users_per_s']:,} users/s overall, {batched['users_per_s_at_p50']:,} at the median request"
    )
    show_latency("latency per request", batched["latency_ms"])
    return {"idle": idle, "paced": steady, "throughput": throughput, "endpoints": endpoints, "batch": batched}


async def bench(args: argparse.Namespace, client_loop: str) -> dict[str, Any]:
    port = args.port or free_port()
    password = secrets.token_urlsafe(18)
    data_dir = Path(tempfile.mkdtemp(prefix="experimently-bench-"))
    try:
        extra_env = await production_env(args) if args.workers else {}
        if args.no_fast_path:  # every request through FastAPI's routing (the A/B of experimently.fastpath)
            extra_env["EXPERIMENTLY_HTTP_FAST_PATH"] = "false"
        with running_server(port, data_dir, password, args.workers, extra_env) as proc:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as client:
                await wait_healthy(client, proc, deadline=time.monotonic() + 180)
                api_key = await prepare(client, password)
                reasons = await check_answers(client, api_key)
            server = loaded_modules(proc.pid)
            print(
                f"server pid {proc.pid} on {HOST}:{port}; event loop: "
                f"{'uvloop' if server['uvloop'] else 'asyncio'}, HTTP parser: "
                f"{'httptools' if server['httptools'] else 'h11'}; client loop: {client_loop}"
            )
            print(f"answers over 200 users: {reasons}")
            figures = await measure(args, port, proc, api_key)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    best = max(figures["throughput"], key=lambda r: r["req_per_s"])
    latency = figures["paced"]["latency_from_schedule_ms"]
    return {
        "bench": "eval_http",
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "server": server,
        "client_loop": client_loop,
        "workers": args.workers or 1,
        "fast_path": not args.no_fast_path,
        "shape": "production" if args.workers else "embedded",
        **figures,
        "max_req_per_s": best["req_per_s"],
        "max_req_per_s_connections": best["connections"],
        "budget": {"p50_ms": 1.0, "p99_ms": 5.0, "batch_users_per_s": 100_000},
        "within_budget": {
            "p50": latency["p50"] <= 1.0,
            "p99": latency["p99"] <= 5.0,
            "batch_median_request": figures["batch"]["users_per_s_at_p50"] >= 100_000,
            "batch_overall": figures["batch"]["users_per_s"] >= 100_000,
        },
    }


def main() -> None:
    args = options()
    run, client_loop = pick_loop(args.no_uvloop)
    figures = run(bench(args, client_loop))
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
