"""``serve --workers 2`` on PostgreSQL and Redis: a worker process that dies is replaced by uvicorn,
said on stderr by the parent, and its metrics stop counting (the pool capacity and the degraded flag
are the live processes' only); also while Redis is down, and a server starts while it is."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, REDIS_URL
from tests.private_services import free_port, private_redis

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


def _env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "EXPERIMENTLY_DATABASE_URL": database_url,
        "EXPERIMENTLY_REDIS_URL": redis_url,
        "EXPERIMENTLY_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",
        "EXPERIMENTLY_DB_POOL_SIZE": "2",
        "EXPERIMENTLY_DB_MAX_OVERFLOW": "1",
        "EXPERIMENTLY_RUN_JOBS": "false",
    }


def _serve(env: dict[str, str], port: int, stderr: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "experimently"
    with stderr.open("wb") as err:
        return subprocess.Popen(
            [str(exe), "serve", "--workers", "2", "--no-migrate", "--port", str(port)],
            env=env,
            stdout=err,  # the log lines too
            stderr=err,
        )


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def _wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _ready(url: str) -> bool:
    return _status(url) == 200


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_dead_worker__replaced__said__its_metrics_gone(migrated_postgres: str | None, tmp_path: Path) -> None:
    assert migrated_postgres is not None and REDIS_URL is not None
    port = free_port()
    stderr = tmp_path / "stderr"
    server = _serve(_env(migrated_postgres, REDIS_URL), port, stderr)
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
        _stop(server)


def test_redis_down__dead_worker_replaced__instance_serves__and_starts(
    migrated_postgres: str | None, tmp_path: Path
) -> None:
    """An operator walk found it: with Redis down, the replacement of a dead worker process failed its
    start-up (creating the stream's consumer group), uvicorn then stopped the whole instance, its
    healthy worker too; and a server could not start during the outage at all (exit 0 with --workers
    2). Both start degraded now: /health 200, /ready 503 naming Redis, and ready again once it is back."""
    assert migrated_postgres is not None
    with private_redis() as redis:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve(_env(migrated_postgres, redis.url), port, tmp_path / "stderr")
        try:
            log = tmp_path / "stderr"

            def started() -> int:  # serving processes that finished their start-up, dead ones included
                return log.read_text().count('"serve.started"')

            # both workers through their start-up (under load one may still be starting when the other
            # answers /ready: killing that one would leave nothing to count)
            _wait_for(lambda: started() == 2 and _status(f"{base}/ready") == 200, "ready")
            # Given Redis down
            redis.stop(kill=True)
            _wait_for(lambda: _status(f"{base}/ready") == 503, "not ready without Redis")
            # When a worker process dies
            victim = min(_workers(server.pid))
            os.kill(victim, signal.SIGKILL)
            # Then it is replaced, and the instance keeps answering
            _wait_for(
                lambda: victim not in _workers(server.pid) and len(_workers(server.pid)) == 2, "replaced"
            )

            def replacement_done() -> bool:  # its start-up over, or the instance gone
                return started() >= 3 or server.poll() is not None

            _wait_for(replacement_done, "the replacement's start-up")
            assert server.poll() is None, log.read_text()[-3000:]
            for _ in range(5):
                assert _status(f"{base}/health") == 200
                time.sleep(0.2)
            # And a second server starts while Redis is down
            other_port = free_port()
            other = _serve(_env(migrated_postgres, redis.url), other_port, tmp_path / "stderr2")
            try:
                other_base = f"http://127.0.0.1:{other_port}"
                _wait_for(lambda: _status(f"{other_base}/health") == 200, "started without Redis")
                ready = httpx.get(f"{other_base}/ready", timeout=5)
                assert ready.status_code == 503 and ready.json()["data"]["redis"] is False
                assert "events.started_without_redis" in (tmp_path / "stderr2").read_text()
                # Once Redis is back, both are ready
                redis.start()
                for url in (f"{base}/ready", f"{other_base}/ready"):
                    _wait_for(functools.partial(_ready, url), f"{url} again")
            finally:
                _stop(other)
        finally:
            _stop(server)


def _metric_or_empty(base: str) -> str:
    try:
        return httpx.get(f"{base}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""
