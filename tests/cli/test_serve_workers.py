"""``serve --workers 2`` on PostgreSQL and Redis: a worker process that dies is replaced by uvicorn,
said on stderr by the parent, and its metrics stop counting (the pool capacity and the degraded flag
are the live processes' only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, REDIS_URL
from tests.private_services import free_port

pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="several workers need PostgreSQL and Redis"
)


def _workers(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
                found.add(int(entry.name))
    return found


def _metric(base: str, name: str) -> str:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def test_dead_worker__replaced__said__its_metrics_gone(migrated_postgres: str | None, tmp_path: Path) -> None:
    assert migrated_postgres is not None and REDIS_URL is not None
    port = free_port()
    env = {
        **os.environ,
        "EXPERIMENTLY_DATABASE_URL": migrated_postgres,
        "EXPERIMENTLY_REDIS_URL": REDIS_URL,
        "EXPERIMENTLY_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",
        "EXPERIMENTLY_DB_POOL_SIZE": "2",
        "EXPERIMENTLY_DB_MAX_OVERFLOW": "1",
        "EXPERIMENTLY_RUN_JOBS": "false",
    }
    exe = Path(sys.executable).parent / "experimently"
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        server = subprocess.Popen(
            [str(exe), "serve", "--workers", "2", "--no-migrate", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Given both workers up: each adds its pool (2 + 1 overflow) once its start-up has run, and the
        # second may be a process a moment before its start-up has
        deadline = time.monotonic() + 60
        both = "experimently_db_pool_capacity 6.0"
        while len(_workers(server.pid)) < 2 or both not in _metric_or_empty(base):
            assert time.monotonic() < deadline, stderr.read_text() + _metric_or_empty(base)
            time.sleep(0.2)
        # When one worker process is killed
        victim = min(_workers(server.pid))
        os.kill(victim, signal.SIGKILL)
        # Then uvicorn starts another, the parent says so, and the dead one's capacity no longer counts
        deadline = time.monotonic() + 30
        while f"worker process {victim} exited" not in stderr.read_text() or len(_workers(server.pid)) < 2:
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while _metric(base, "experimently_db_pool_capacity ") != "experimently_db_pool_capacity 6.0":
            assert time.monotonic() < deadline, _metric(base, "experimently_db_pool_capacity")
            time.sleep(0.2)
        assert 'pid="' not in _metric(base, "experimently_degraded")  # one value per dependency
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def _metric_or_empty(base: str) -> str:
    try:
        return httpx.get(f"{base}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""
