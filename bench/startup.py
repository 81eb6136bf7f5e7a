"""Cold start of ``experimently serve`` to a healthy ``/health``.

Budget (issue #17): <= 2 s on the embedded default.

Run: .venv/bin/python bench/startup.py   (``--help`` for the knobs)

Each run starts a new ``experimently serve`` process (a new interpreter: nothing imported, the OS page
cache warm as it is on any restart) and polls ``GET /health`` every 10 ms until it answers 200; the
figure is the wall time from ``Popen`` to that first 200. The process is then stopped with SIGTERM,
and its CPU time (user + system, from ``wait4``) is reported beside the wall time: on a shared machine
the wall time measures the neighbours as much as the product, the CPU time does not.

Shapes:

- ``embedded_first``: a fresh data directory each run (creates the SQLite schema, the default
  environments and the admin account, whose password hash alone is an argon2 hash);
- ``embedded``: a restart on an existing data directory (the common case);
- ``production``: PostgreSQL and Redis from ``--database-url`` / ``--redis-url`` (the schema migrated
  once before the runs, ``--no-migrate`` as in a deployment where a Job migrates).

Median of ``--runs`` (default 5) per shape; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HOST = "127.0.0.1"
EXE = str(Path(sys.executable).with_name("experimently"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


PORT = 0  # --port: a fixed port (runs are sequential), else a free one per run


def start_once(env: dict[str, str], extra: list[str], timeout: float) -> tuple[float, float]:
    """(wall seconds to the first healthy answer, CPU seconds the server used in all, stop included)."""
    port = PORT or free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [EXE, "serve", "--host", HOST, "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = started + timeout
        with httpx.Client(timeout=0.5) as client:
            while time.perf_counter() < deadline:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"serve exited with {proc.returncode}: {err[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://{HOST}:{port}/health").status_code == 200:
                        wall = time.perf_counter() - started
                        break
                time.sleep(0.01)
            else:
                raise RuntimeError(f"/health did not answer within {timeout} s")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    proc.send_signal(signal.SIGTERM)
    try:
        _pid, _status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped
        return wall, float("nan")
    return wall, usage.ru_utime + usage.ru_stime


def measure(
    name: str, runs: int, make_env: Callable[[int], dict[str, str]], extra: list[str], timeout: float
) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for i in range(runs):
        wall, cpu = start_once(make_env(i), extra, timeout)
        walls.append(wall)
        cpus.append(cpu)
        print(f"{name:16s} run {i + 1}: {wall:.3f} s wall, {cpu:.3f} s CPU", flush=True)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shapes", default="embedded_first,embedded,production", help="comma-separated")
    parser.add_argument(
        "--old", action="store_true", help="a version before --workers existed (production runs 1 process)"
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--database-url", default=os.environ.get("EXPERIMENTLY_TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("EXPERIMENTLY_TEST_REDIS_URL"))
    args = parser.parse_args()
    global PORT
    PORT = args.port

    base = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIMENTLY_")}
    base["EXPERIMENTLY_LOG_LEVEL"] = "WARNING"
    root = Path(tempfile.mkdtemp(prefix="xp-startup-"))
    results: dict[str, object] = {
        "bench": "startup",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": args.runs,
    }
    try:

        def fresh(i: int) -> dict[str, str]:
            return {**base, "EXPERIMENTLY_DATA_DIR": str(root / f"fresh-{i}")}

        restart_dir = root / "restart"

        def restart(_i: int) -> dict[str, str]:
            return {**base, "EXPERIMENTLY_DATA_DIR": str(restart_dir)}

        if "embedded" in args.shapes.split(","):
            start_once(restart(0), [], args.timeout)  # create the data dir once: the runs are restarts
        shapes: list[tuple[str, Callable[[int], dict[str, str]], list[str]]] = [
            ("embedded_first", fresh, []),
            ("embedded", restart, []),
        ]
        if args.database_url and args.redis_url:
            prod = {
                **base,
                "EXPERIMENTLY_DATA_DIR": str(root / "prod"),
                "EXPERIMENTLY_DATABASE_URL": args.database_url,
                "EXPERIMENTLY_REDIS_URL": args.redis_url,
                "EXPERIMENTLY_SECRET_KEY": secrets.token_urlsafe(48),
                "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",  # bench key
            }
            subprocess.run([EXE, "migrate"], env=prod, check=True, stdout=subprocess.DEVNULL)
            # one process, as before --workers existed: the figure is the start-up, not the fan-out
            one = [] if args.old else ["--workers", "1"]
            shapes.append(("production", lambda _i: prod, ["--no-migrate", *one]))
        else:
            print("production shape skipped: pass --database-url and --redis-url", flush=True)
        wanted = set(args.shapes.split(","))
        for name, make_env, extra in shapes:
            if name not in wanted:
                continue
            walls, cpus = measure(name, args.runs, make_env, extra, args.timeout)
            results[f"{name}_median_s"] = round(statistics.median(walls), 3)
            results[f"{name}_cpu_median_s"] = round(statistics.median(cpus), 3)
            results[f"{name}_runs_s"] = [round(f, 3) for f in walls]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
