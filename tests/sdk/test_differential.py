"""The client's local answers equal the server's, for 10,000 users, every flag and every experiment:
at the start, after an experiment is paused, after it is re-weighted and resumed (stored assignments
then differ from the buckets), and after flags and segments change while the client is streaming."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from experimently_sdk import ExperimentDef, assign, compile_experiment
from experimently_sdk.client import Client
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import EXPERIMENTS, FLAGS, build, cond, put_flag, users

FIELDS = ("value", "variation", "reason", "rule_id", "error_code", "experiment_key", "experiment_variant")


def server_flags(
    server: LiveServer, key: str, flag: str, people: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    body = {"flag_key": flag, "users": [{"user_id": u, "context": a} for u, a in people]}
    response = server.admin.post(
        "/api/v1/feature-flags/evaluate/batch", json=body, headers={"X-API-Key": key, "Authorization": ""}
    )
    assert response.status_code == 200, response.text
    return [tuple(r[f] for f in FIELDS) for r in response.json()["data"]["results"]]


def server_variants(
    server: LiveServer, key: str, exp: str, people: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(people), 1000):
        chunk = people[start : start + 1000]
        body = {"units": [{"unit_id": u, "context": a} for u, a in chunk]}
        response = server.admin.post(
            f"/api/v1/experiments/{exp}/assign/bulk",
            json=body,
            headers={"X-API-Key": key, "Authorization": ""},
        )
        assert response.status_code == 200, response.text
        out.extend(r["variant"] for r in response.json()["data"])
    return out


def compare(
    server: LiveServer, key: str, client: Client, people: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """Every flag and experiment for every user; returns mismatches (expected: none) and tallies."""
    mismatches: list[Any] = []
    tallies: dict[str, set[Any]] = {}
    for exp in EXPERIMENTS:
        remote = server_variants(server, key, exp, people)
        local_variants = [client.get_variant(exp, u, a) for u, a in people]
        mismatches += [
            (exp, people[i][0], r, loc) for i, (r, loc) in enumerate(zip(remote, local_variants)) if r != loc
        ]
        tallies[exp] = set(remote)
    for flag in FLAGS:
        remote = server_flags(server, key, flag, people)
        local: list[Any] = []
        for u, a in people:
            d = client.variation_detail(flag, u, a)
            local.append(
                (
                    d.value,
                    d.variation,
                    d.reason,
                    d.rule_id,
                    d.error_code,
                    d.experiment_key,
                    d.experiment_variant,
                )
            )
        mismatches += [
            (flag, people[i][0], r, loc) for i, (r, loc) in enumerate(zip(remote, local)) if r != loc
        ]
        enabled = [client.is_enabled(flag, u, a) for u, a in people]  # its own fast path: same answers
        mismatches += [
            (flag, "is_enabled", people[i][0]) for i, r in enumerate(remote) if enabled[i] != (r[0] is True)
        ]
        tallies[flag] = {r[2] for r in remote}
    return {"mismatches": mismatches, "tallies": tallies}


def wait_version(client: Client, old: str | None, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while client.version == old:
        assert time.monotonic() < deadline, "the client did not receive the change"
        time.sleep(0.02)
    assert client.version is not None
    return client.version


def test_client_equals_server__10k_users__through_pause_reweight_resume_and_streamed_changes(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    # Given a realistic ruleset on a real server and a streaming client
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path / "a")).start()
    try:
        build(server)
        key = server.sdk_key()
        people = users(10_000)
        with Client(key, server.base_url, init_timeout=30, send_events=False, sticky_timeout=10) as client:
            assert client.initialized

            # Then: identical answers, and every kind of outcome is exercised
            first = compare(server, key, client, people)
            assert first["mismatches"] == [], first["mismatches"][:5]
            assert {"TARGETING_MATCH", "SPLIT"} <= first["tallies"]["new-checkout"]
            assert {"TARGETING_MATCH", "SPLIT", "DEFAULT"} <= first["tallies"]["banner-color"]
            assert {"TARGETING_MATCH", "DEFAULT", "DISABLED"} <= first["tallies"]["discount"]
            assert first["tallies"]["layer-a"] == {None, "control", "short", "long"}
            assert first["tallies"]["onboarding"] == {None, "control", "short", "long"}

            # When the experiment is paused
            version = client.version
            server.call("POST", "/api/v1/experiments/checkout-exp/pause")
            version = wait_version(client, version)
            paused = compare(server, key, client, people)
            assert paused["mismatches"] == [], paused["mismatches"][:5]
            assert paused["tallies"]["checkout-exp"] == {None}

            # When it is re-weighted and resumed: stored assignments now differ from the buckets
            exp = server.call("GET", "/api/v1/experiments/checkout-exp")
            reweighted = [{**exp["variants"][0], "weight": 90}, {**exp["variants"][1], "weight": 10}]
            server.call(
                "PATCH",
                "/api/v1/experiments/checkout-exp",
                json={"variants": reweighted, "version": exp["version"]},
            )
            server.call("POST", "/api/v1/experiments/checkout-exp/resume")
            deadline = time.monotonic() + 15
            while (client.get_variant("checkout-exp", "probe") is None) and time.monotonic() < deadline:
                time.sleep(0.02)
            payload = server.admin.get(
                "/api/v1/sdk/flags", headers={"X-API-Key": key, "Authorization": ""}
            ).json()
            marked = {
                e["key"]: (e["assignment"], len(e["overrides"])) for e in payload["data"]["experiments"]
            }
            assert marked["checkout-exp"][0] == "local" and marked["checkout-exp"][1] > 500
            assert {marked[k] for k in ("layer-a", "layer-b", "onboarding")} == {("local", 0)}
            resumed = compare(server, key, client, people)
            assert resumed["mismatches"] == [], resumed["mismatches"][:5]
            # the test can fail: the buckets alone would now disagree with the server for many units
            new_def = compile_experiment(
                ExperimentDef(
                    "checkout-exp",
                    exp["salt"],
                    (("control", 90.0), ("treatment", 10.0)),
                    80.0,
                    bucket_by="user_id",
                )
            )
            stored = server_variants(server, key, "checkout-exp", people)
            differ = sum(
                1
                for (u, _), v in zip(people, stored)
                if v is not None and assign(new_def, {"user_id": u}).variant != v
            )
            assert differ > 500

            # When flags and a segment change while the client streams
            version = client.version
            put_flag(
                server,
                "new-checkout",
                {
                    "enabled": True,
                    "rules": [
                        {
                            "id": "jp",
                            "conditions": [cond("country", "eq", "JP")],
                            "serve": {"variation": "off"},
                        }
                    ],
                    "fallthrough": {
                        "rollout": {
                            "variations": [
                                {"variation": "on", "weight": 80},
                                {"variation": "off", "weight": 20},
                            ]
                        }
                    },
                },
            )
            seg = server.call("GET", "/api/v1/segments/eu")
            server.call(
                "PATCH",
                "/api/v1/segments/eu",
                json={
                    "conditions": [cond("country", "in", "DE", "FR", "IT", "ES", "GB")],
                    "version": seg.get("version"),
                },
            )
            version = wait_version(client, version)
            deadline = time.monotonic() + 15
            while client.variation("banner-color", "x", {"country": "GB"}) != "blue":
                assert time.monotonic() < deadline, "the segment change did not reach the client"
                time.sleep(0.02)
            changed = compare(server, key, client, people)
            assert changed["mismatches"] == [], changed["mismatches"][:5]
            assert "TARGETING_MATCH" in changed["tallies"]["new-checkout"]
    finally:
        server.stop()


def test_reweighted_beyond_overrides_max__client_asks_server_once_per_unit(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    # Given an experiment whose stored assignments are too many to list in the payload (bound 0)
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path / "a"), sdk_overrides_max=0).start()
    try:
        build(server)
        key = server.sdk_key()
        people = users(600, seed=11)
        assert server_variants(server, key, "checkout-exp", people).count(None) < 600  # stored now
        server.call("POST", "/api/v1/experiments/checkout-exp/pause")
        exp = server.call("GET", "/api/v1/experiments/checkout-exp")
        reweighted = [{**exp["variants"][0], "weight": 5}, {**exp["variants"][1], "weight": 95}]
        exp = server.call(
            "PATCH",
            "/api/v1/experiments/checkout-exp",
            json={"variants": reweighted, "version": exp["version"]},
        )
        server.call("POST", "/api/v1/experiments/checkout-exp/resume")
        with Client(key, server.base_url, init_timeout=30, send_events=False, sticky_timeout=10) as client:
            doc = next(e for e in client._snapshot.payload["experiments"] if e["key"] == "checkout-exp")
            assert doc["assignment"] == "server"
            # When the client answers: Then it equals the server (stored variants included)
            local = [client.get_variant("checkout-exp", u, a) for u, a in people]
            flags = [client.variation_detail("checkout-flag", u, a) for u, a in people]
            assert local == server_variants(server, key, "checkout-exp", people)
            remote_flags = server_flags(server, key, "checkout-flag", people)
            assert [
                (
                    d.value,
                    d.variation,
                    d.reason,
                    d.rule_id,
                    d.error_code,
                    d.experiment_key,
                    d.experiment_variant,
                )
                for d in flags
            ] == remote_flags
            new_def = compile_experiment(
                ExperimentDef("checkout-exp", exp["salt"], (("control", 5.0), ("treatment", 95.0)), 80.0)
            )
            assert (
                sum(
                    1
                    for (u, _), v in zip(people, local)
                    if v and assign(new_def, {"user_id": u}).variant != v
                )
                > 50
            )
            assert len(client._sticky) == len(people)  # asked once per unit, then remembered
    finally:
        server.stop()
