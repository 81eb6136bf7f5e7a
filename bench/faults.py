"""Fault harness: a production-shape deployment on one machine, faults injected under bounded load.

Starts its OWN PostgreSQL cluster (initdb into a temp dir, as ``nobody`` when run as root) and its own
redis-server (append-only file, fsync always) on spare ports, two ``experimently serve`` (enqueue only)
and two ``experimently worker`` processes, then for each fault: worker SIGKILL, PostgreSQL restart,
PostgreSQL down, Redis down, Redis restarted empty, a kill switch under evaluation load. For each it
prints events sent / accepted / stored / lost / duplicated, the client error rate, answers of 500 and
the seconds to recover, and it ends with one JSON line. Every process is ended by its PID, always.

    python bench/faults.py            # full: PostgreSQL down 60 s, Redis down 15 s
    python bench/faults.py --short    # a few minutes: PostgreSQL down 10 s, Redis down 5 s (CI)

The client behaves as an SDK does: an event answered 503 / 429 or not answered is sent again, with the
same ``event_id``, after Retry-After (at most 1 s). "lost" counts events answered 202 and never stored;
"duplicated" counts stored rows beyond one per ``event_id``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.httpload import FAILURES, Answer, OpenLoop, Pool  # noqa: E402
from tests.private_services import PrivatePostgres, PrivateRedis  # noqa: E402

# the ports of one run, set from --port-base by ``use_ports`` (defaults: 18350, 18360, 18301-18302)
PG_PORT, REDIS_PORT, SERVE_PORTS = 18350, 18360, (18301, 18302)
ADMIN, PASSWORD = "admin@example.com", "fault-harness-password-1"
CONNECTIONS = 32  # persistent connections per serve instance
RETRY_BASE, RETRY_CAP = 0.1, 1.0  # the client's event retries: first within 0.1 s, at most 1 s apart
EXE = str(Path(sys.executable).parent / "experimently")


@dataclass
class Tally:
    sent: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    requests: int = 0
    errors: int = 0
    answers_500: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def failed(self, exc: Exception) -> None:
        self.count(0)
        name = type(exc).__name__
        self.failures[name] = self.failures.get(name, 0) + 1

    def count(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 400 or status == 0:
            self.errors += 1
        if status == 500:
            self.answers_500 += 1


class Deployment:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pg = PrivatePostgres(PG_PORT)
        self.redis = PrivateRedis(REDIS_PORT, appendonly=True)
        self.serves: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes] | None] = [None, None]
        self.pools: dict[int, Pool] = {}
        self.env = {
            **os.environ,
            "EXPERIMENTLY_DATABASE_URL": self.pg.url,
            "EXPERIMENTLY_REDIS_URL": self.redis.url,
            "EXPERIMENTLY_SECRET_KEY": "fault-harness-secret-key-0123456789abcdef",
            "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",  # bench key
            "EXPERIMENTLY_ADMIN_EMAIL": ADMIN,
            "EXPERIMENTLY_ADMIN_PASSWORD": PASSWORD,
            "EXPERIMENTLY_DATA_DIR": str(workdir),
            "EXPERIMENTLY_LOG_LEVEL": "WARNING",
            "EXPERIMENTLY_ACCESS_LOG": "false",
            "EXPERIMENTLY_EVENT_CLAIM_IDLE_MS": "5000",
            "EXPERIMENTLY_API_KEY_RATE_LIMIT": "10000000/minute",
        }

    def _spawn(self, args: list[str], name: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the child's life)
        return subprocess.Popen(args, env={**self.env, **extra}, stdout=log, stderr=log)

    def start(self) -> None:
        self.pg.start()
        self.redis.start()
        subprocess.run([EXE, "migrate"], env=self.env, check=True, capture_output=True)
        for port in SERVE_PORTS:
            # one process per instance, as the Kubernetes manifests run it (EXPERIMENTLY_WORKERS=1)
            args = [EXE, "serve", "--port", str(port), "--no-migrate", "--workers", "1"]
            self.serves.append(self._spawn(args, f"serve-{port}", EXPERIMENTLY_EVENT_WRITER="false"))
        for index in range(2):
            self.start_worker(index)
        deadline = time.monotonic() + 480  # four processes importing at once on a busy machine
        for port in SERVE_PORTS:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            else:
                raise TimeoutError(f"serve on {port} did not start")

    def start_worker(self, index: int) -> None:
        self.workers[index] = self._spawn([EXE, "worker"], f"worker-{index}")

    def kill_worker(self, index: int) -> None:
        proc = self.workers[index]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.workers[index] = None

    def close(self) -> None:
        for proc in [*self.serves, *[w for w in self.workers if w is not None]]:
            with contextlib.suppress(Exception):
                proc.terminate()
        for proc in [*self.serves, *[w for w in self.workers if w is not None]]:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.redis.close()
        self.pg.close()


class Load:
    """Events (one per request, unique ids, resent until answered 202) and evaluations, both at fixed
    rates, spread over the two ``serve`` instances through persistent connections
    (``bench/httpload.py``: httpx's own CPU cost made the client, not the servers, the limit)."""

    def __init__(self, pools: dict[int, Pool], key: str, prefix: str, events_per_s: int, evals_per_s: int):
        self.pools, self.key, self.prefix = pools, key, prefix
        self.events_per_s, self.evals_per_s = events_per_s, evals_per_s
        self.tally = Tally()
        self.running = True
        self._tasks: set[asyncio.Task[None]] = set()
        self.reasons: dict[int, set[str]] = {port: set() for port in SERVE_PORTS}
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}
        self.retries: list[int] = []  # attempts per accepted event that needed more than one

    async def _event(self, n: int) -> None:
        event_id = f"{self.prefix}-{n}"
        self.tally.sent.add(event_id)
        port = SERVE_PORTS[n % 2]
        body = json.dumps({"event_id": event_id, "name": "fault", "user_id": f"u{n % 1000}"}).encode()
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            answer: Answer | None = None
            try:
                answer = await self.pools[port].request("POST", "/api/v1/events", self.headers, body)
                self.tally.count(answer.status)
            except FAILURES as exc:
                self.tally.failed(exc)
            if answer is not None and answer.status == 202:
                self.tally.accepted.add(event_id)
                if attempt:
                    self.retries.append(attempt + 1)
                return
            # as the SDK does: exponential backoff with full jitter, never shorter than Retry-After;
            # the first retry comes fast (a dropped connection or a restart is often over in ~1 s)
            retry_after = answer.headers.get("retry-after", "") if answer is not None else ""
            floor = min(1.0, float(retry_after)) if retry_after.isdigit() else 0.0
            await asyncio.sleep(max(floor, random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**attempt))))
            attempt += 1
            port = SERVE_PORTS[(SERVE_PORTS.index(port) + 1) % 2]

    async def _evaluate(self, n: int) -> None:
        port = SERVE_PORTS[n % 2]
        pool = self.pools[port]
        if not pool.has_idle():  # saturated: this evaluation is not sent (the achieved rate says so)
            return
        try:
            answer = await pool.request(
                "GET", f"/api/v1/feature-flags/kill-me/evaluate?user_id=u{n}", self.headers
            )
        except FAILURES as exc:
            self.tally.failed(exc)
            return
        self.tally.count(answer.status)
        if answer.status == 200:
            self.reasons[port].add(json.loads(answer.body)["data"]["reason"])

    async def _pace(self, rate: int, make: Any) -> None:
        if rate <= 0:
            return
        started, n = time.monotonic(), 0
        while self.running:
            n += 1
            task = asyncio.create_task(make(n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def run(self) -> None:
        await asyncio.gather(
            self._pace(self.events_per_s, self._event), self._pace(self.evals_per_s, self._evaluate)
        )

    async def stop(self) -> None:
        self.running = False
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=150)


async def stored_counts(pg_dsn: str, prefix: str) -> tuple[int, int]:
    """(distinct event ids stored, rows) for the prefix; (-1, -1) while PostgreSQL is unreachable."""
    try:
        conn = await asyncpg.connect(pg_dsn, timeout=2)
    except Exception:
        return -1, -1
    try:
        row = await conn.fetchrow(
            "SELECT count(DISTINCT event_id) AS d, count(*) AS n FROM events WHERE event_id LIKE $1",
            prefix + "-%",
        )
        return int(row["d"]), int(row["n"])
    finally:
        await conn.close()


async def stored_among(pg_dsn: str, ids: list[str]) -> int:
    """How many of ``ids`` are stored; -1 while PostgreSQL is unreachable."""
    try:
        conn = await asyncpg.connect(pg_dsn, timeout=2)
    except Exception:
        return -1
    try:
        return int(await conn.fetchval("SELECT count(*) FROM event_keys WHERE event_id = ANY($1)", ids))
    except Exception:
        return -1
    finally:
        await conn.close()


async def recovery(pg_dsn: str, load: Load, restored: float, limit: float) -> float | None:
    """Seconds from the dependency's return until every event accepted before it is stored and an
    event sent after it has been accepted (the backlog drained and ingestion answering)."""
    backlog = list(load.tally.accepted)
    accepted_before = len(load.tally.accepted)
    while time.monotonic() - restored < limit:
        if len(load.tally.accepted) > accepted_before and await stored_among(pg_dsn, backlog) >= len(backlog):
            return time.monotonic() - restored
        await asyncio.sleep(0.1)
    return None


async def reloads(client: httpx.AsyncClient) -> list[float]:
    found = []
    for port in SERVE_PORTS:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        match = re.search(r"^experimently_ruleset_reloads_total (\S+)$", text, re.M)
        found.append(float(match.group(1)) if match else 0.0)
    return found


async def run_fault(
    name: str,
    dep: Deployment,
    client: httpx.AsyncClient,
    key: str,
    inject: Any,
    *,
    outage: float,
    rate: dict[str, int],
    timing: dict[str, float],
) -> dict[str, Any]:
    events_per_s, evals_per_s = rate["events_per_s"], rate["evals_per_s"]
    warm, after = timing["warm"], timing["after"]
    load = Load(dep.pools, key, name, events_per_s, evals_per_s)
    runner = asyncio.create_task(load.run())
    await asyncio.sleep(warm)
    injected = time.monotonic()
    await inject()
    restored = time.monotonic()
    outage = max(outage, restored - injected)  # a restart's real length, measured
    dsn = dep.pg.url.replace("+asyncpg", "")
    watch = asyncio.create_task(recovery(dsn, load, restored, max(60.0, 4 * outage)))
    await asyncio.sleep(after)
    recovered = await watch
    await load.stop()
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    accepted = load.tally.accepted
    drain_deadline = time.monotonic() + max(60.0, 4 * outage)
    distinct, rows = await stored_counts(dsn, name)
    while distinct < len(accepted) and time.monotonic() < drain_deadline:
        await asyncio.sleep(0.25)
        distinct, rows = await stored_counts(dsn, name)
    result = {
        "fault": name,
        "outage_s": round(outage, 2),
        "sent": len(load.tally.sent),
        "accepted": len(accepted),
        "stored": distinct,
        "lost": max(0, len(accepted) - distinct),
        "duplicated": max(0, rows - distinct),
        "requests": load.tally.requests,
        "client_error_rate": round(load.tally.errors / max(1, load.tally.requests), 4),
        "answers_500": load.tally.answers_500,
        "statuses": {str(k): v for k, v in sorted(load.tally.statuses.items())},
        "client_failures": load.tally.failures,
        "recover_s": round(recovered, 2) if recovered is not None else None,
        "drained_within_2x_outage": recovered is not None and recovered <= 2 * max(outage, 1.0),
    }
    return result


async def main(options: dict[str, Any]) -> list[dict[str, Any]]:
    short, only = options["short"], options["only"]
    pg_down, redis_down = (10.0, 5.0) if short else (60.0, 15.0)
    rate: dict[str, int] = {"events_per_s": 50 if short else 100, "evals_per_s": 50 if short else 100}
    timing: dict[str, float] = {"warm": 2.0 if short else 5.0, "after": 3.0 if short else 10.0}
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    workdir = Path(tempfile.mkdtemp(prefix="experimently-faults-"))
    dep = Deployment(workdir)
    results: list[dict[str, Any]] = []
    try:
        dep.start()
        dep.pools = {port: Pool("127.0.0.1", port, CONNECTIONS) for port in SERVE_PORTS}
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=8)) as client:
            base = f"http://127.0.0.1:{SERVE_PORTS[0]}/api/v1"
            token = (
                await client.post(f"{base}/auth/token", data={"username": ADMIN, "password": PASSWORD})
            ).json()
            admin = {"Authorization": f"Bearer {token['access_token']}"}
            made = await client.post(
                f"{base}/api-keys",
                json={"name": "faults", "environment": "production", "scopes": ["evaluate", "track"]},
                headers=admin,
            )
            key = made.json()["data"]["key"]
            await client.post(
                f"{base}/feature-flags", json={"key": "kill-me", "name": "kill-me"}, headers=admin
            )
            await client.put(
                f"{base}/feature-flags/kill-me/environments/production",
                json={"enabled": True, "rules": [], "fallthrough": {"variation": "on"}, "version": 1},
                headers=admin,
            )

            warmup = Load(dep.pools, key, "warmup", rate["events_per_s"], rate["evals_per_s"])
            runner = asyncio.create_task(warmup.run())
            await asyncio.sleep(10)
            await warmup.stop()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

            async def worker_sigkill() -> None:
                dep.kill_worker(0)
                await asyncio.sleep(2)
                dep.start_worker(0)

            async def pg_restart() -> None:
                await asyncio.to_thread(dep.pg.stop)
                await asyncio.to_thread(dep.pg.start)

            async def pg_outage() -> None:
                await asyncio.to_thread(dep.pg.stop)
                await asyncio.sleep(pg_down)
                await asyncio.to_thread(dep.pg.start)

            async def redis_outage() -> None:
                await asyncio.to_thread(dep.redis.stop, kill=True)
                await asyncio.sleep(redis_down)
                await asyncio.to_thread(dep.redis.start)

            async def redis_empty() -> None:
                # drained first: a wiped Redis loses whatever its stream held (docs/events.md); what is
                # measured here is that the pipeline heals (group recreated, counter reconciled)
                await asyncio.sleep(3)
                await asyncio.to_thread(dep.redis.stop)
                await asyncio.to_thread(dep.redis.wipe)
                await asyncio.to_thread(dep.redis.start)

            plan = [
                # a dead consumer's messages are claimed after EVENT_CLAIM_IDLE_MS (5 s here)
                ("worker_sigkill", worker_sigkill, 2.0 + 5.0),
                ("pg_restart", pg_restart, 1.0),
                ("pg_down", pg_outage, pg_down),
                ("redis_down", redis_outage, redis_down),
            ]
            for name, inject, outage in plan:
                if only and name not in only:
                    continue
                results.append(
                    await run_fault(name, dep, client, key, inject, outage=outage, rate=rate, timing=timing)
                )
                print(json.dumps(results[-1]), flush=True)
            if not only or "redis_empty" in only:
                results.append(await run_redis_empty(dep, client, key, redis_empty, rate, timing))
                print(json.dumps(results[-1]), flush=True)
            if not only or "kill_switch" in only:
                results.append(await run_kill_switch(dep, client, key, admin, base, options))
                print(json.dumps(results[-1]), flush=True)
    except BaseException:
        print(f"fault harness failed; process logs kept in {workdir}", file=sys.stderr)
        raise
    else:
        if options["keep_logs"]:
            print(f"process logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        dep.close()
    return results


async def run_redis_empty(
    dep: Deployment,
    client: httpx.AsyncClient,
    key: str,
    inject: Any,
    rate: dict[str, int],
    timing: dict[str, float],
) -> dict[str, Any]:
    """Load before and after the wipe, none across it (see ``redis_empty``)."""
    first = await run_fault(
        "redis_empty_before", dep, client, key, _nothing, outage=0.0, rate=rate, timing=timing
    )
    await inject()
    second = await run_fault("redis_empty", dep, client, key, _nothing, outage=1.0, rate=rate, timing=timing)
    for field_name in ("sent", "accepted", "stored", "lost", "duplicated", "requests", "answers_500"):
        second[field_name] += first[field_name]
    for status, count in first["statuses"].items():
        second["statuses"][status] = second["statuses"].get(status, 0) + count
    errors = sum(count for status, count in second["statuses"].items() if status == "0" or int(status) >= 400)
    second["client_error_rate"] = round(errors / max(1, second["requests"]), 4)
    return second


async def _nothing() -> None:
    return None


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its descendants (``serve`` runs uvicorn in a child
    process) have used so far (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0.0
    for member in tree:
        fields = _stat(member)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def run_kill_switch(
    dep: Deployment,
    client: httpx.AsyncClient,
    key: str,
    admin: dict[str, str],
    base: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Evaluations at ``kill_rate`` requests/s from the open-loop client (``bench/httpload.py``), one kill
    switch, then: reloads per instance, seconds until both answer DISABLED, and where the CPU went
    (this client, each ``serve``) so a shortfall of the achieved rate is attributed."""
    reasons: dict[int, set[str]] = {port: set() for port in SERVE_PORTS}

    def seen(port: int, answer: Answer) -> None:
        if answer.status == 200:
            reasons[port].add(json.loads(answer.body)["data"]["reason"])

    pools = [Pool("127.0.0.1", port, options["connections"]) for port in SERVE_PORTS]
    load = OpenLoop(
        pools,
        options["kill_rate"],
        lambda n: f"/api/v1/feature-flags/kill-me/evaluate?user_id=u{n}",
        {"X-API-Key": key},
        on_answer=seen,
    )
    runner = asyncio.create_task(load.run())
    await asyncio.sleep(3)
    # a fresh sign-in: access tokens outlive a short run, not the full one
    token = (await client.post(f"{base}/auth/token", data={"username": ADMIN, "password": PASSWORD})).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    before = await reloads(client)
    cpu_before = [time.process_time(), *(cpu_seconds(p.pid) for p in dep.serves)]
    offered_before, answered_before = load.stats.offered, load.stats.answered
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    killed = await client.post(
        f"{base}/feature-flags/kill-me/environments/production/kill",
        json={"reason": "fault harness"},
        headers=admin,
    )
    for port in SERVE_PORTS:
        reasons[port].clear()
    seen_at = None
    while time.monotonic() - started < 10:
        await asyncio.sleep(0.05)
        if all("DISABLED" in reasons[p] for p in SERVE_PORTS):
            seen_at = time.monotonic() - started
            break
    await asyncio.sleep(3 if options["short"] else 10)
    elapsed = time.monotonic() - started
    cpu_after = [time.process_time(), *(cpu_seconds(p.pid) for p in dep.serves)]
    offered = load.stats.offered - offered_before
    answered = load.stats.answered - answered_before
    after = await reloads(client)
    await load.stop()
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    for pool in pools:
        pool.close()
    stats = load.stats
    cpu = [round((a - b) / elapsed, 2) for a, b in zip(cpu_after, cpu_before, strict=True)]
    errors = stats.failed + sum(n for status, n in stats.statuses.items() if status >= 400)
    p50, p99 = stats.percentile(0.5), stats.percentile(0.99)
    return {
        "fault": "kill_switch",
        "kill_status": killed.status_code,
        "evals_per_s_asked": options["kill_rate"],
        "evals_per_s_offered": round(offered / elapsed, 1),
        "evals_per_s_answered": round(answered / elapsed, 1),
        "not_sent_no_idle_connection": stats.not_sent,
        "latency_ms_p50": round(1000 * p50, 1) if p50 is not None else None,
        "latency_ms_p99": round(1000 * p99, 1) if p99 is not None else None,
        "cpu_cores_client": cpu[0],
        "cpu_cores_per_serve": cpu[1:],
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "requests": stats.answered + stats.failed,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "client_error_rate": round(errors / max(1, stats.answered + stats.failed), 4),
        "answers_500": stats.statuses.get(500, 0),
        "reloads_per_instance": [a - b for a, b in zip(after, before, strict=True)],
        "recover_s": round(seen_at, 3) if seen_at is not None else None,
        "lost": 0,
        "duplicated": 0,
    }


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    header = (
        f"{'fault':<16}{'sent':>7}{'accepted':>9}{'stored':>8}{'lost':>6}{'dup':>5}"
        f"{'err%':>7}{'500s':>6}{'recover s':>10}"
    )
    print(header)
    for r in results:
        print(
            f"{r['fault']:<16}{r.get('sent', '-'):>7}{r.get('accepted', '-'):>9}{r.get('stored', '-'):>8}"
            f"{r['lost']:>6}{r['duplicated']:>5}{100 * r['client_error_rate']:>6.1f}%{r['answers_500']:>6}"
            f"{r['recover_s'] if r['recover_s'] is not None else '-':>10}"
        )
    summary = {
        "bench": "faults",
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
        "answers_500": sum(r["answers_500"] for r in results),
        "drained_within_2x_outage": all(r.get("drained_within_2x_outage", True) for r in results),
        "reloads_per_instance": next(
            (r["reloads_per_instance"] for r in results if r["fault"] == "kill_switch"), None
        ),
        "faults": results,
    }
    return summary


def use_ports(base: int) -> None:
    """PostgreSQL on base+50, Redis on base+60, the two ``serve`` on base+1 and base+2."""
    global PG_PORT, REDIS_PORT, SERVE_PORTS
    PG_PORT, REDIS_PORT, SERVE_PORTS = base + 50, base + 60, (base + 1, base + 2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="short outages, a few minutes in all (CI)")
    parser.add_argument("--check", action="store_true", help="exit 1 on any lost event or answer of 500")
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("FAULTS_PORT_BASE", "18300")),
        help="ports used: base+1, base+2 (serve), base+50 (PostgreSQL), base+60 (Redis); default 18300",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated faults to run (worker_sigkill, pg_restart, pg_down, "
        "redis_down, redis_empty, kill_switch); default: all",
    )
    parser.add_argument("--kill-rate", type=float, default=500.0, help="evaluations/s asked in kill_switch")
    parser.add_argument(
        "--connections", type=int, default=32, help="kill_switch: persistent connections per serve"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs after a run")
    options = parser.parse_args()
    use_ports(options.port_base)
    outcome = report(
        asyncio.run(
            main(
                {
                    "short": options.short,
                    "only": {name for name in options.only.split(",") if name},
                    "kill_rate": options.kill_rate,
                    "connections": options.connections,
                    "keep_logs": options.keep_logs,
                }
            )
        )
    )
    print(json.dumps(outcome))
    if options.check and (outcome["lost"] or outcome["answers_500"]):
        sys.exit(1)
