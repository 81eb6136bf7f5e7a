"""Our evaluation over HTTP side by side with Unleash's open-source server (``unleash-server``, npm).

Both servers run on this machine, one process each, with the same flags as ``bench/eval_engine.py``
(a 50/50 rollout, and the 10 rules x 3 conditions flag whose last rule serves a 3-way split), and are
driven by the same load generator (``bench/eval_http.py``'s keep-alive client, its open-loop pacer and
its closed loop), one after the other, scenario by scenario:

- ``evaluate-simple`` / ``evaluate-complex``: one user's answer computed by the server. Ours:
  ``POST /api/v1/feature-flags/{key}/evaluate`` (server key). Unleash: ``POST /api/frontend`` (a frontend
  token), its only endpoint that evaluates a context on the server; it answers every enabled flag of the
  token's project, so only the measured flag is enabled while it is measured (the other is switched off
  through the admin API, and the answers are checked before timing).
- ``payload``: the ruleset a server-side SDK downloads. Ours: ``GET /api/v1/sdk/flags``. Unleash:
  ``GET /api/client/features`` (a backend token). Both flags, full answers (no ``If-None-Match``).

Assignment has no counterpart in Unleash (nothing is persisted: its variant answer is a hash, as our
evaluate endpoint's is), so it is not part of the side by side; see bench/assign.py.

Per scenario and server: the maximum rate of ``--connections`` keep-alive connections in a closed loop,
then a paced phase at the same rate for both, ``--rate`` req/s for ``--duration`` s, or less when the
slower server's maximum on this machine is below it (``--paced-fraction`` of it; the rate used is
printed): latency from the scheduled time, P50/P99/P99.9. Both phases give the server's CPU time per
request (from /proc, its child processes included), the figure a loaded machine disturbs least. The
machine's other CPU use is printed with every phase.

Unleash runs from ``bench/peers/unleash`` (``npm ci`` there installs the pinned ``unleash-server``; the
script does it on first use) on its own PostgreSQL database (``--unleash-db``, emptied first), with its
SDK rate limits raised so they do not cap the bench, request logging off. Ours runs as
``bench/eval_http.py`` runs it: ``experimently serve``, embedded (SQLite), one process, access log off.

Run (from the repository root):

    .venv/bin/python bench/peers/unleash_http.py --unleash-db postgresql://postgres@127.0.0.1:5432/<db>
    # or: make bench-peers-http UNLEASH_DB=... [PEERS_HTTP_ARGS="--rate 1000 --duration 10"]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
UNLEASH_DIR = HERE / "unleash"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from compare import _below, _countries, _third  # noqa: E402

from eval_engine import complex_flag, contexts, simple_flag  # noqa: E402
from eval_http import (  # noqa: E402
    ADMIN_EMAIL,
    HOST,
    CpuMeter,
    closed_loop,
    paced,
    pick_loop,
    running_server,
    stop,
    wait_healthy,
)

ADMIN_TOKEN = "*:*.bench-admin-token"
BACKEND_TOKEN = "default:development.bench-backend-token"
FRONTEND_TOKEN = "default:development.bench-frontend-token"
USERS = 20_000
SCENARIOS = ("evaluate-simple", "evaluate-complex", "payload")


# --------------------------------------------------------------------------------------------- Unleash


def ensure_unleash() -> None:
    if not (UNLEASH_DIR / "node_modules" / "unleash-server").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=UNLEASH_DIR, check=True)


async def reset_database(url: str) -> None:
    """Empty the peer's own database (its schema is made by its migrations on start)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@contextlib.contextmanager
def running_unleash(port: int, db_url: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url.replace("postgresql://", "postgres://"),
        "HTTP_PORT": str(port),
        "HTTP_HOST": HOST,
        "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN,
        "INIT_BACKEND_API_TOKENS": BACKEND_TOKEN,
        "INIT_FRONTEND_API_TOKENS": FRONTEND_TOKEN,
        "SDK_API_RATE_LIMIT_PER_MINUTE": "1000000000",
        "TOKEN_AUTHENTICATION_RATE_LIMIT_PER_MINUTE": "1000000000",
        "REQUEST_LOGGER_ENABLE": "false",
        "NODE_ENV": "production",
    }
    log = log_path.open("wb")
    proc = subprocess.Popen(
        ["node", "server.mjs"], cwd=UNLEASH_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    except BaseException:
        log.flush()
        print(
            f"--- unleash output (tail) ---\n{log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr
        )
        raise
    finally:
        stop(proc, log)


def _constraint(name: str, operator: str, **kw: Any) -> dict[str, Any]:
    return {"contextName": name, "operator": operator, "caseInsensitive": False, "inverted": False, **kw}


def unleash_strategies(flag: str) -> list[dict[str, Any]]:
    """The flags of bench/peers/compare.py's Unleash adapter, in the admin API's format."""
    if flag == "simple":
        return [
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "simple"},
                "constraints": [],
            }
        ]
    strategies = []
    for r in range(10):
        kind, arg = _third(r)
        third = (
            _constraint("app_version", "SEMVER_GT", value=_below(arg))
            if kind == "semver"
            else _constraint("email", "STR_ENDS_WITH", values=[f"@example{r}.net", f"@example{r}.io"])
        )
        weights = (("a", 334), ("b", 333), ("c", 333)) if r == 9 else (("a", 1000),)
        strategies.append(
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "userId", "groupId": "complex"},
                "constraints": [
                    _constraint("country", "IN", values=_countries(r)),
                    _constraint("age", "NUM_GT", value="17"),
                    third,
                ],
                "variants": [
                    {"name": n, "weight": w, "weightType": "variable", "stickiness": "userId"}
                    for n, w in weights
                ],
            }
        )
    return strategies


async def prepare_unleash(client: httpx.AsyncClient) -> None:
    admin = {"Authorization": ADMIN_TOKEN}
    for name in ("country", "age", "app_version", "email"):
        response = await client.post("/api/admin/context", json={"name": name}, headers=admin)
        assert response.status_code in (201, 409), response.text
    project = "/api/admin/projects/default/features"
    for flag in ("simple", "complex"):
        response = await client.post(project, json={"name": flag, "type": "release"}, headers=admin)
        assert response.status_code == 201, response.text
        for strategy in unleash_strategies(flag):
            response = await client.post(
                f"{project}/{flag}/environments/development/strategies", json=strategy, headers=admin
            )
            assert response.status_code == 200, response.text


async def switch_unleash(client: httpx.AsyncClient, enabled: set[str]) -> None:
    admin = {"Authorization": ADMIN_TOKEN}
    for flag in ("simple", "complex"):
        state = "on" if flag in enabled else "off"
        path = f"/api/admin/projects/default/features/{flag}/environments/development/{state}"
        response = await client.post(path, headers=admin)
        assert response.status_code == 200, response.text


def frontend_body(user: dict[str, Any]) -> bytes:
    properties = {k: str(user[k]) for k in ("country", "age", "app_version", "email")}
    return json.dumps({"context": {"userId": user["user_id"], "properties": properties}}).encode()


async def unleash_answers(client: httpx.AsyncClient, flag: str, users: list[dict[str, Any]]) -> Counter[Any]:
    served: Counter[Any] = Counter()
    for user in users:
        response = await client.post(
            "/api/frontend",
            content=frontend_body(user),
            headers={"Authorization": FRONTEND_TOKEN, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        toggles = {t["name"]: t for t in response.json()["toggles"]}
        assert set(toggles) <= {flag}, toggles  # only the measured flag is on
        if flag == "simple":
            served[flag in toggles] += 1
        else:
            served[toggles[flag]["variant"]["name"] if flag in toggles else None] += 1
    return served


# --------------------------------------------------------------------------------------------- ours


async def prepare_ours(client: httpx.AsyncClient, password: str) -> str:
    token = (
        await client.post("/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": password})
    ).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    for data in (simple_flag(), complex_flag()):
        body = {
            "key": data["key"],
            "name": data["key"],
            "type": data["type"],
            "salt": data["salt"],
            "variations": data["variations"],
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variation": data["off_variation"],
                    "rules": data.get("rules", []),
                    "fallthrough": data["fallthrough"],
                }
            },
        }
        response = await client.post("/api/v1/feature-flags", json=body, headers=admin)
        assert response.status_code == 201, response.text
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "bench", "environment": "production", "scopes": ["evaluate"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["key"])


def ours_body(user: dict[str, Any]) -> bytes:
    context = {k: user[k] for k in ("country", "age", "app_version", "email")}
    return json.dumps({"user_id": user["user_id"], "context": context}).encode()


async def our_answers(
    client: httpx.AsyncClient, key: str, flag: str, users: list[dict[str, Any]]
) -> Counter[Any]:
    served: Counter[Any] = Counter()
    for user in users:
        response = await client.post(
            f"/api/v1/feature-flags/{flag}/evaluate",
            content=ours_body(user),
            headers={"X-API-Key": key, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        served[response.json()["data"]["value"]] += 1
    return served


def check(server: str, flag: str, served: Counter[Any]) -> None:
    n = sum(served.values())
    if flag == "simple":
        assert 0.45 < served[True] / n < 0.55, (server, served)
    else:
        assert set(served) == {"a", "b", "c"} and all(0.28 < c / n < 0.39 for c in served.values()), (
            server,
            served,
        )


# --------------------------------------------------------------------------------------------- load


def raw(method: str, path: str, port: int, headers: dict[str, str], body: bytes | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def requests_for(server: str, scenario: str, port: int, key: str, users: list[dict[str, Any]]) -> list[bytes]:
    if scenario == "payload":
        if server == "ours":
            return [raw("GET", "/api/v1/sdk/flags", port, {"X-API-Key": key})]
        return [raw("GET", "/api/client/features", port, {"Authorization": BACKEND_TOKEN})]
    flag = scenario.removeprefix("evaluate-")
    if server == "ours":
        path = f"/api/v1/feature-flags/{flag}/evaluate"
        return [raw("POST", path, port, {"X-API-Key": key}, ours_body(u)) for u in users]
    return [
        raw("POST", "/api/frontend", port, {"Authorization": FRONTEND_TOKEN}, frontend_body(u)) for u in users
    ]


async def maximum(
    args: argparse.Namespace, label: str, port: int, pid: int, requests: list[bytes]
) -> dict[str, Any]:
    # warm-up by count, not time: V8 optimises a function after many calls, and on a loaded machine a
    # few seconds are a few hundred requests (bounded by --warmup-seconds)
    done, started = 0, time.monotonic()
    while done < args.warmup and time.monotonic() - started < args.warmup_seconds:
        done += (await closed_loop(port, requests, 8, 1.0, pid))["requests"]
    best = await closed_loop(port, requests, args.connections, args.throughput_seconds, pid)
    best["server_cpu_ms_per_request"] = round(best["server_cpu"] * 1000 / max(1, best["req_per_s"]), 3)
    lat = best["latency_ms"]
    print(
        f"  {label:8s} max {best['req_per_s']:>6,} req/s ({args.connections} conn, p50 {lat['p50']} ms, "
        f"p99 {lat['p99']} ms): server {best['server_cpu']} cores, {best['server_cpu_ms_per_request']} ms "
        f"CPU/request; other {best['other_cpu']} cores"
    )
    return dict(best)


async def steady(
    args: argparse.Namespace, label: str, rate: float, port: int, pid: int, requests: list[bytes]
) -> dict[str, Any]:
    try:
        result = await paced(port, requests, rate, args.duration, args.max_inflight, pid)
    except TimeoutError:  # the server fell too far behind the schedule: no latency figure
        print(f"  {label:8s} paced {rate:.0f} req/s: not sustained (timed out)")
        return {"target_rate": rate, "timed_out": True}
    result["server_cpu_ms_per_request"] = round(result["server_cpu"] * 1000 / result["achieved_rate"], 3)
    lat = result["latency_from_schedule_ms"]
    print(
        f"  {label:8s} paced {result['achieved_rate']:.0f} req/s: p50 {lat['p50']} p99 {lat['p99']} "
        f"p99.9 {lat['p99_9']} max {lat['max']} ms, errors {result['errors']}; server "
        f"{result['server_cpu_ms_per_request']} ms CPU/request; other {result['other_cpu']} cores"
    )
    return dict(result)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    users = contexts(USERS)
    ours_port, unleash_port = args.port, args.port + 1
    password = secrets.token_urlsafe(18)
    data_dir = Path(tempfile.mkdtemp(prefix="experimently-bench-"))
    await reset_database(args.unleash_db)
    results: dict[str, Any] = {}
    try:
        with (
            running_server(ours_port, data_dir, password) as ours,
            running_unleash(unleash_port, args.unleash_db, data_dir / "unleash.log") as unleash,
        ):
            async with (
                httpx.AsyncClient(base_url=f"http://{HOST}:{ours_port}", timeout=10) as oc,
                httpx.AsyncClient(base_url=f"http://{HOST}:{unleash_port}", timeout=10) as uc,
            ):
                await wait_healthy(oc, ours, time.monotonic() + 180)
                await wait_healthy(uc, unleash, time.monotonic() + 300)
                key = await prepare_ours(oc, password)
                await prepare_unleash(uc)
                idle = {"ours": CpuMeter(ours.pid), "unleash": CpuMeter(unleash.pid)}
                await asyncio.sleep(3)
                results["idle_cpu"] = {name: meter.read()["server_cpu"] for name, meter in idle.items()}
                print(f"idle 3 s, server CPU (cores): {results['idle_cpu']}")
                versions = json.loads((UNLEASH_DIR / "node_modules/unleash-server/package.json").read_text())
                results["unleash_version"] = versions["version"]
                for scenario in args.scenarios.split(","):
                    flag = scenario.removeprefix("evaluate-")
                    if scenario == "payload":
                        await switch_unleash(uc, {"simple", "complex"})
                    else:
                        await switch_unleash(uc, {flag})
                        sample = users[:1000]
                        for _ in range(60):  # the frontend API's cache follows the change within seconds
                            with contextlib.suppress(AssertionError):
                                check("unleash", flag, await unleash_answers(uc, flag, sample))
                                break
                            await asyncio.sleep(1)
                        else:
                            raise RuntimeError(f"Unleash's frontend API does not serve {flag} as configured")
                        check("ours", flag, await our_answers(oc, key, flag, sample))
                    print(f"{scenario}:")
                    results[scenario] = {}
                    servers = (("ours", ours_port, ours), ("unleash", unleash_port, unleash))
                    reqs = {name: requests_for(name, scenario, port, key, users) for name, port, _ in servers}
                    for _ in range(args.repeats):  # ours, Unleash, ours, Unleash...
                        best = {}
                        for name, port, proc in servers:
                            best[name] = await maximum(args, name, port, proc.pid, reqs[name])
                        # the same paced rate for both: --rate, or less when the machine cannot give
                        # the slower of the two that much (a loaded machine): --paced-fraction of its max
                        rate = min(
                            args.rate, args.paced_fraction * min(b["req_per_s"] for b in best.values())
                        )
                        for name, port, proc in servers:
                            paced_run = await steady(args, name, rate, port, proc.pid, reqs[name])
                            results[scenario].setdefault(name, []).append(
                                {"max": best[name], "paced": paced_run}
                            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if scenario not in results:
            continue
        for name, runs in results[scenario].items():
            prefix = f"{scenario.replace('-', '_')}_{name}"
            out[f"{prefix}_max_req_per_s"] = max(r["max"]["req_per_s"] for r in runs)
            out[f"{prefix}_cpu_ms_per_req"] = min(r["max"]["server_cpu_ms_per_request"] for r in runs)
            paced_runs = [r["paced"] for r in runs if not r["paced"].get("timed_out")]
            out[f"{prefix}_paced_rate"] = round(min(r["paced"]["target_rate"] for r in runs))
            if paced_runs:
                out[f"{prefix}_paced_cpu_ms_per_req"] = min(
                    p["server_cpu_ms_per_request"] for p in paced_runs
                )
                for q in ("p50", "p99", "p99_9"):
                    out[f"{prefix}_paced_{q}_ms"] = min(p["latency_from_schedule_ms"][q] for p in paced_runs)
        mine, theirs = (f"{scenario.replace('-', '_')}_{n}" for n in ("ours", "unleash"))
        out[f"{scenario.replace('-', '_')}_max_ratio"] = round(
            out[f"{mine}_max_req_per_s"] / out[f"{theirs}_max_req_per_s"], 2
        )
        out[f"{scenario.replace('-', '_')}_cpu_ratio"] = round(
            out[f"{theirs}_cpu_ms_per_req"] / out[f"{mine}_cpu_ms_per_req"], 2
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--unleash-db", default=os.environ.get("UNLEASH_DB"), help="PostgreSQL URL, emptied first"
    )
    parser.add_argument("--port", type=int, default=19210, help="ours; Unleash on the next port")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--connections", type=int, default=16, help="closed loop: keep-alive connections")
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced phase: requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="paced phase: seconds")
    parser.add_argument("--max-inflight", type=int, default=64)
    parser.add_argument(
        "--paced-fraction",
        type=float,
        default=0.6,
        help="paced rate at most this fraction of the slower server's max (a loaded machine)",
    )
    parser.add_argument("--warmup", type=int, default=3000, help="requests per server and scenario first")
    parser.add_argument("--warmup-seconds", type=float, default=40.0, help="at most this long")
    parser.add_argument("--repeats", type=int, default=1, help="alternations ours/Unleash per scenario")
    args = parser.parse_args()
    if not args.unleash_db:
        raise SystemExit(
            "--unleash-db (or UNLEASH_DB): a PostgreSQL database of Unleash's own, emptied first"
        )
    ensure_unleash()
    load = os.getloadavg()
    run, _ = pick_loop(False)
    results = run(bench(args))
    figures = summarise(results)
    for scenario in SCENARIOS:
        s = scenario.replace("-", "_")
        if f"{s}_max_ratio" in figures:
            print(
                f"{scenario}: ours / Unleash = x{figures[f'{s}_max_ratio']} max req/s, "
                f"x{figures[f'{s}_cpu_ratio']} less server CPU per request"
            )
    print(
        json.dumps(
            {
                "bench": "peers_http",
                "nproc": os.cpu_count(),
                "load_before": round(load[0], 2),
                "load_after": round(os.getloadavg()[0], 2),
                "unleash_version": results.get("unleash_version"),
                "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
                "idle_cpu": results.get("idle_cpu"),
                **figures,
                "runs": {s: results[s] for s in SCENARIOS if s in results},
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
