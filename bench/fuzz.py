"""Fuzz the whole OpenAPI with schemathesis, as an admin and as an API key, and count answers of 500.

Starts its own `experimently serve` (embedded SQLite in a temporary directory; with --postgres also
one on PostgreSQL + Redis), logs in, creates an API key with every scope, then runs
`schemathesis run` over every operation for each identity with the `not_a_server_error` check.
Bounded: --max-examples per operation and --budget seconds per run (the run is stopped past it).

    make fuzz                                   # embedded shape, both identities
    .venv/bin/python bench/fuzz.py --postgres postgresql+asyncpg://... --redis redis://.../N

The fuzz group must be installed (`make fuzz` does it: uv sync --group fuzz). Prints one line per
run and ends with one JSON line: {"runs": [...], "server_errors": N, ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "fuzz-admin-password-1"
ADMIN = "admin@experimently.local"
SCOPES = ["evaluate", "track", "manage"]


def start_server(port: int, data_dir: str, extra_env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EXPERIMENTLY_DATA_DIR": data_dir,
        "EXPERIMENTLY_ADMIN_PASSWORD": PASSWORD,
        "EXPERIMENTLY_LOGIN_RATE_LIMIT": "100000/minute",
        "EXPERIMENTLY_ACCESS_TOKEN_TTL_SECONDS": "7200",
        "EXPERIMENTLY_LOG_LEVEL": "WARNING",
        "EXPERIMENTLY_ACCESS_LOG": "false",
        **extra_env,
    }
    out = log.open("wb")
    process = subprocess.Popen(
        [str(BIN / "experimently"), "serve", "--port", str(port), "--migrate"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited: see {log}")
        time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"server did not start: see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def identities(base: str) -> dict[str, str]:
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}, timeout=30
    )
    token.raise_for_status()
    bearer = f"Authorization: Bearer {token.json()['access_token']}"
    key = httpx.post(
        f"{base}/api/v1/api-keys",
        json={"name": "fuzz", "environment": "production", "scopes": SCOPES},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )
    key.raise_for_status()
    return {"admin": bearer, "api_key": f"X-API-Key: {key.json()['data']['key']}"}


def fuzz(base: str, header: str, report: Path, max_examples: int, budget: float, seed: int) -> dict[str, Any]:
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"{base}/api/openapi.json",
        "--header",
        header,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--continue-on-failure",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--generation-database",
        ":memory:",
        # logging out or deactivating the fuzzing identity would end the run early
        "--exclude-path-regex",
        r"/auth/(logout|password)|/users/\{[^}]+\}/(deactivate|sessions)|/api-keys/\{[^}]+\}",
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, timeout=budget, check=False)
        output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        timed_out = False
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace")
        timed_out = True
    elapsed = time.monotonic() - started
    return {"seconds": round(elapsed, 1), "timed_out": timed_out, **summarize(report, output)}


def summarize(report: Path, output: str) -> dict[str, Any]:
    operations = failures = 0
    failing: list[str] = []
    try:
        root = ET.parse(report).getroot() if report.exists() else None
    except ET.ParseError:  # the run was stopped at its budget before writing the report
        root = None
    if root is not None:
        for case in root.iter("testcase"):
            operations += 1
            problems = [*case.iter("failure"), *case.iter("error")]
            text = " ".join((p.get("message") or "") + (p.text or "") for p in problems)
            if re.search(r"Server error|500", text):
                failures += 1
                failing.append(case.get("name") or "?")
    calls = re.search(r"(\d+) (?:test cases|generated)", output)
    return {
        "operations": operations if root is not None else None,
        "operations_with_500": failures,
        "failing": failing[:30],
        "test_cases": int(calls.group(1)) if calls else None,
        "tail": output.strip().splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18210)
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per schemathesis run")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres", help="also fuzz a server on this database URL (its schema is reset)")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL shape")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    shapes: list[tuple[str, dict[str, str]]] = []
    if not args.skip_embedded:
        shapes.append(("embedded", {}))
    if args.postgres:
        env = {
            "EXPERIMENTLY_DATABASE_URL": args.postgres,
            "EXPERIMENTLY_SECRET_KEY": secrets.token_urlsafe(32),  # required with an external database
            "EXPERIMENTLY_ENCRYPTION_KEYS": "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=",  # bench key
        }
        if args.redis:
            env["EXPERIMENTLY_REDIS_URL"] = args.redis
        shapes.append(("postgres", env))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="experimently-fuzz-") as tmp:
        for offset, (shape, env) in enumerate(shapes):
            port = args.port + offset
            data_dir = str(Path(tmp) / shape)
            if shape == "postgres":
                reset_postgres(args.postgres)
            server = start_server(port, data_dir, env, Path(tmp) / f"{shape}.log")
            try:
                base = f"http://127.0.0.1:{port}"
                for who, header in identities(base).items():
                    report = Path(tmp) / f"{shape}-{who}.xml"
                    result = {"shape": shape, "identity": who}
                    result.update(fuzz(base, header, report, args.max_examples, args.budget, args.seed))
                    runs.append(result)
                    print(
                        f"{shape:9s} {who:8s} operations={result['operations']!s:>4} "
                        f"with_500={result['operations_with_500']:3d} seconds={result['seconds']:7.1f}"
                        f"{' (budget reached)' if result['timed_out'] else ''}  {result['failing'][:5]}",
                        flush=True,
                    )
            finally:
                stop(server)
                logs = (Path(tmp) / f"{shape}.log").read_text(errors="replace")
                unhandled = logs.count("request.unhandled_error")
                print(f"{shape:9s} server log: {unhandled} unhandled errors (answers of 500)", flush=True)
                for run in runs:
                    if run["shape"] == shape:
                        run["server_log_500s"] = unhandled
    total = sum(r["operations_with_500"] for r in runs) + sum(
        r.get("server_log_500s", 0)
        for r in runs
        if r["identity"] == "admin"  # once per server
    )
    summary = {
        "bench": "fuzz",
        "tool": "schemathesis",
        "max_examples": args.max_examples,
        "seed": args.seed,
        "runs": [{k: v for k, v in r.items() if k != "tail"} for r in runs],
        "server_errors": total,
    }
    print(json.dumps(summary))
    sys.exit(1 if total else 0)


def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema of the fuzz database (never a shared one)."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def reset() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


if __name__ == "__main__":
    main()
