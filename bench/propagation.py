"""Change-to-client latency: a flag changed through the API until a streaming client uses it.

Starts `experimently serve` (embedded: SQLite, in-process fan-out) on a free port in a temporary data
directory, or uses ``--url`` with ``--email``/``--password`` of a running server (point the client at a
second instance with ``--client-url`` to measure across instances over Redis). It connects a
:class:`experimently_sdk.client.Client`, then toggles one flag ``--changes`` times: each latency runs
from just before the change request is sent to the client's change listener firing (so it includes
the write, the commit, the cache invalidation, the payload rebuild and the SSE hop).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from experimently_sdk.client import ChangeEvent, Client

EMAIL, PASSWORD = "bench@example.com", "bench-password-123"


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "EXPERIMENTLY_DATA_DIR": tempfile.mkdtemp(),
        "EXPERIMENTLY_ADMIN_EMAIL": EMAIL,
        "EXPERIMENTLY_ADMIN_PASSWORD": PASSWORD,
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "experimently.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--url")
    parser.add_argument("--client-url")
    parser.add_argument("--email", default=EMAIL)
    parser.add_argument("--password", default=PASSWORD)
    args = parser.parse_args()
    process = None
    url = args.url
    if url is None:
        process, url = start_server()
    try:
        admin = httpx.Client(base_url=url, timeout=30)
        token = admin.post("/api/v1/auth/token", data={"username": args.email, "password": args.password})
        admin.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        flag = f"propagation-{int(time.time())}"
        admin.post("/api/v1/feature-flags", json={"key": flag, "name": flag}).raise_for_status()
        key = admin.post(
            "/api/v1/api-keys", json={"name": "bench", "environment": "production", "scopes": ["evaluate"]}
        ).json()["data"]["key"]
        seen = threading.Event()
        client = Client(key, args.client_url or url, init_timeout=30, send_events=False)

        def listener(change: ChangeEvent) -> None:
            if flag in change.keys:
                seen.set()

        client.on_change(listener)
        while client._updater is None or not client._updater.connected:
            time.sleep(0.01)
        latencies: list[float] = []
        version = 1
        for i in range(args.changes):
            seen.clear()
            started = time.perf_counter()
            response = admin.put(
                f"/api/v1/feature-flags/{flag}/environments/production",
                json={"enabled": i % 2 == 0, "version": version},
            )
            response.raise_for_status()
            version = response.json()["data"]["version"]
            if not seen.wait(10):
                raise SystemExit(f"change {i} never reached the client")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
        client.close()
    finally:
        if process is not None:
            process.kill()
            process.wait()
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{len(ordered)} changes: P50 {p50 * 1000:.1f} ms, P99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms (budget P99 <= 1000 ms)"
    )
    print(
        json.dumps(
            {
                "changes": len(ordered),
                "p50_ms": round(p50 * 1000, 1),
                "p99_ms": round(p99 * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1),
                "budget_p99_ms": 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
