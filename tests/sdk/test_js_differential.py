"""The Node client (sdk/js) answers like the server: a real `experimently serve` process, a realistic
ruleset built through the API (tests/sdk/ruleset.py), 10,000 users, every flag and experiment, at the
start and after an experiment is re-weighted (stored assignments then differ from the buckets), and
with the payload marking an experiment `"assignment": "server"`.

Needs Node 18+ and the built package (`make js-test` builds it; `make test` runs that first); skipped
without them, except under CI=true."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.sdk.live import LiveServer, free_port
from tests.sdk.ruleset import EXPERIMENTS, FLAGS, build, users
from tests.sdk.test_differential import server_flags, server_variants

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "sdk" / "js"
SCRIPT = JS / "scripts" / "differential-client.mjs"
BROWSER_SCRIPT = JS / "scripts" / "browser-client.mjs"

pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true"
    and (shutil.which("node") is None or not (JS / "dist" / "index.js").exists()),
    reason="needs node and the built sdk/js package (make js-test)",
)


class ProcessServer(LiveServer):
    """`experimently serve` as a child process (SQLite in a temp data dir); the same helpers as LiveServer."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        super().__init__("sqlite", data_dir, port=free_port())
        self.data_dir = data_dir
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ProcessServer:
        env = {
            **os.environ,
            "EXPERIMENTLY_DATA_DIR": str(self.data_dir),
            "EXPERIMENTLY_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
            "EXPERIMENTLY_ADMIN_EMAIL": ADMIN_EMAIL,
            "EXPERIMENTLY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "EXPERIMENTLY_RUN_JOBS": "false",
            "EXPERIMENTLY_LOGIN_RATE_LIMIT": "1000/minute",
            "EXPERIMENTLY_LOG_LEVEL": "WARNING",
            "EXPERIMENTLY_SDK_CLIENT_RATE_LIMIT": "1000000/minute",
            **self.env,
        }
        for name in ("EXPERIMENTLY_DATABASE_URL", "EXPERIMENTLY_REDIS_URL"):
            env.pop(name, None)
        command = [str(Path(sys.executable).parent / "experimently"), "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, "the server exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


def node_answers(server: LiveServer, key: str, people: list[tuple[str, dict[str, Any]]], tmp: Path) -> Any:
    request = tmp / "request.json"
    body = {
        "baseUrl": server.base_url,
        "key": key,
        "users": people,
        "flags": FLAGS,
        "experiments": EXPERIMENTS,
    }
    request.write_text(json.dumps(body), "utf-8")
    done = subprocess.run(
        ["node", str(SCRIPT), str(request)], capture_output=True, timeout=600, check=False, cwd=JS
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def compare(
    server: LiveServer, key: str, people: list[tuple[str, dict[str, Any]]], tmp: Path
) -> dict[str, Any]:
    local = node_answers(server, key, people, tmp)
    mismatches: list[Any] = []
    tallies: dict[str, set[Any]] = {}
    for exp in EXPERIMENTS:
        remote = server_variants(server, key, exp, people)
        mismatches += [
            (exp, people[i][0], r, v)
            for i, (r, v) in enumerate(zip(remote, local["experiments"][exp]))
            if r != v
        ]
        tallies[exp] = set(remote)
    for flag in FLAGS:
        remote = server_flags(server, key, flag, people)
        got = [tuple(d) for d in local["flags"][flag]]
        mismatches += [(flag, people[i][0], r, v) for i, (r, v) in enumerate(zip(remote, got)) if r != v]
        mismatches += [
            (flag, "isFeatureEnabled", people[i][0])
            for i, r in enumerate(remote)
            if local["enabled"][flag][i] != (r[0] is True)
        ]
        tallies[flag] = {r[2] for r in remote}
    return {"mismatches": mismatches, "tallies": tallies, "version": local["version"]}


def browser_matches_server(server: LiveServer, people: list[tuple[str, dict[str, Any]]], tmp: Path) -> None:
    """Flags marked client-visible, a client-side key, the browser client: the server's values, no rules."""
    visible = [f for f in FLAGS if f != "dark-mode"]  # one flag stays hidden
    for flag in visible:
        version = server.call("GET", f"/api/v1/feature-flags/{flag}")["version"]
        body = {"client_visible": True, "version": version}
        server.call("PUT", f"/api/v1/feature-flags/{flag}/client-visible", json=body)
    body = {"name": "browser", "environment": "production", "scopes": ["client"]}
    client_key = str(server.call("POST", "/api/v1/api-keys", 201, json=body)["key"])
    headers = {"X-API-Key": client_key, "Authorization": ""}
    raw = server.admin.post("/api/v1/sdk/evaluate", json={"user_id": "u1", "context": {}}, headers=headers)
    assert raw.status_code == 200, raw.text
    assert set(raw.json()["data"]["flags"]) == set(visible)
    fields = {"value", "variation", "reason", "error_code", "experiment_key", "experiment_variant"}
    assert all(set(v) == fields for v in raw.json()["data"]["flags"].values())  # never a rule
    assert server.admin.get("/api/v1/sdk/flags", headers=headers).status_code == 403

    request = tmp / "browser.json"
    request.write_text(
        json.dumps(
            {"baseUrl": server.base_url, "key": client_key, "users": people, "flags": [*visible, "dark-mode"]}
        ),
        "utf-8",
    )
    done = subprocess.run(
        ["node", str(BROWSER_SCRIPT), str(request)], capture_output=True, timeout=600, check=False, cwd=JS
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    local = json.loads(done.stdout)
    server_key = server.sdk_key()
    mismatches: list[Any] = []
    for flag in visible:
        remote = [
            (r[0], r[1], r[2], r[4], r[5], r[6]) for r in server_flags(server, server_key, flag, people)
        ]
        mismatches += [
            (flag, people[i][0], r, v) for i, (r, v) in enumerate(zip(remote, local[flag])) if r != tuple(v)
        ]
    assert mismatches == [], mismatches[:5]
    assert {tuple(v)[2:4] for v in local["dark-mode"]} == {("ERROR", "FLAG_NOT_FOUND")}  # hidden flag


def reweight(server: LiveServer, control: int) -> None:
    server.call("POST", "/api/v1/experiments/checkout-exp/pause")
    exp = server.call("GET", "/api/v1/experiments/checkout-exp")
    variants = [{**exp["variants"][0], "weight": control}, {**exp["variants"][1], "weight": 100 - control}]
    server.call(
        "PATCH", "/api/v1/experiments/checkout-exp", json={"variants": variants, "version": exp["version"]}
    )
    server.call("POST", "/api/v1/experiments/checkout-exp/resume")


def test_node_client_equals_server__10k_users__before_and_after_a_reweight(tmp_path: Path) -> None:
    server = ProcessServer(tmp_path / "data").start()
    try:
        # Given a realistic ruleset on a real server process
        build(server)
        key = server.sdk_key()
        people = users(10_000)

        # Then the Node client's local answers equal the server's, and every kind of outcome occurs
        first = compare(server, key, people, tmp_path)
        assert first["mismatches"] == [], first["mismatches"][:5]
        assert {"TARGETING_MATCH", "SPLIT"} <= first["tallies"]["new-checkout"]
        assert {"TARGETING_MATCH", "SPLIT", "DEFAULT"} <= first["tallies"]["banner-color"]
        assert {"TARGETING_MATCH", "DEFAULT", "DISABLED"} <= first["tallies"]["discount"]
        assert first["tallies"]["layer-a"] == {None, "control", "short", "long"}

        # And the browser client, with a client-side key, gets the server's values for 1,000 users
        browser_matches_server(server, people[:1000], tmp_path)

        # When the experiment is re-weighted: stored assignments differ from the buckets (overrides)
        reweight(server, 90)
        payload = server.admin.get(
            "/api/v1/sdk/flags", headers={"X-API-Key": key, "Authorization": ""}
        ).json()
        marked = {e["key"]: (e["assignment"], len(e["overrides"])) for e in payload["data"]["experiments"]}
        assert marked["checkout-exp"][0] == "local" and marked["checkout-exp"][1] > 500
        second = compare(server, key, people, tmp_path)
        assert second["mismatches"] == [], second["mismatches"][:5]
    finally:
        server.stop()


def test_node_client_asks_the_server_for_experiments_marked_server(tmp_path: Path) -> None:
    # Given stored assignments too many to list in the payload (bound 0), then a re-weight
    server = ProcessServer(tmp_path / "data", EXPERIMENTLY_SDK_OVERRIDES_MAX="0").start()
    try:
        build(server)
        key = server.sdk_key()
        people = users(600, seed=11)
        assert server_variants(server, key, "checkout-exp", people).count(None) < 600  # stored now
        reweight(server, 5)
        payload = server.admin.get(
            "/api/v1/sdk/flags", headers={"X-API-Key": key, "Authorization": ""}
        ).json()
        doc = next(e for e in payload["data"]["experiments"] if e["key"] == "checkout-exp")
        assert doc["assignment"] == "server"
        # Then the Node client's answers equal the server's (stored variants included)
        result = compare(server, key, people, tmp_path)
        assert result["mismatches"] == [], result["mismatches"][:5]
    finally:
        server.stop()
