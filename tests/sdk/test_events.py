"""Exposures and events the client sends go through the ordinary ingestion and are counted by the
aggregation exactly like the server's own."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from experimently.events.models import Event
from experimently.flags.exposures import exposure_id
from experimently.metrics.aggregation import load_snapshot
from experimently_sdk.client import Client
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import TWO, exp_serve, put_flag

METRIC = {"key": "purchased", "name": "Purchased", "kind": "binomial", "event_name": "purchase"}


def test_client_exposures_and_events__counted_like_server_side(tmp_path: Path, migrated_sqlite: Path) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    try:
        call = server.call
        call("POST", "/api/v1/metrics", 201, json=METRIC)
        call(
            "POST",
            "/api/v1/experiments",
            201,
            json={"key": "exp", "name": "e", "variants": TWO, "primary_metric": "purchased"},
        )
        call("POST", "/api/v1/experiments/exp/start")
        call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        put_flag(
            server,
            "f",
            {
                "enabled": True,
                "rules": [
                    {
                        "id": "x",
                        "conditions": [],
                        "serve": exp_serve("exp", {"control": "off", "treatment": "on"}),
                    }
                ],
            },
        )
        # and a flag under a guarded rollout (the only kind whose exposures are recorded)
        call("POST", "/api/v1/feature-flags", 201, json={"key": "g", "name": "g"})
        put_flag(server, "g", {"enabled": True, "fallthrough": {"variation": "off"}})
        rollout = {"environment": "production", "variation": "on", "percentage": 50}
        rollout["guardrail_metrics"] = ["purchased"]
        started = call("POST", "/api/v1/feature-flags/g/guarded-rollouts", 201, json=rollout)
        key = server.sdk_key()
        headers = {"X-API-Key": key, "Authorization": ""}
        variants: dict[str, str] = {}
        guarded: dict[str, str] = {}
        # Given 100 units assigned by the server, 100 by the client's get_variant, 100 by its flag
        for i in range(100):
            response = server.admin.post(
                "/api/v1/experiments/exp/assign", json={"unit_id": f"s{i}"}, headers=headers
            )
            variants[f"s{i}"] = response.json()["data"]["variant"]
        with Client(key, server.base_url, init_timeout=30) as client:
            for i in range(100):
                variants[f"c{i}"] = str(client.get_variant("exp", f"c{i}"))
                detail = client.variation_detail("f", f"fl{i}")
                variants[f"fl{i}"] = str(detail.experiment_variant)
                client.is_enabled("f", f"fl{i}")  # a repeat: deduplicated
                guarded[f"fl{i}"] = str(client.variation_detail("g", f"fl{i}").variation)
                client.is_enabled("g", f"fl{i}")  # a repeat: deduplicated
            for unit in variants:
                client.track("purchase", unit, properties={"source": "sdk"})
            assert client.flush(60)
        # the server evaluates some of the same units itself: each exposure is still stored once
        body = {"flag_key": "g", "users": [{"user_id": f"fl{i}"} for i in range(50)]}
        server.admin.post("/api/v1/feature-flags/evaluate/batch", json=body, headers=headers)
        assert server.rt.flags.exposures is not None
        server.run(server.rt.flags.exposures.flush())
        server.run(server.rt.pipeline.flush())

        # Then: one exposure per unit whoever sent it, the same shape, and one flag exposure per flag unit
        async def rows() -> list[Event]:
            async with server.rt.db.transaction() as session:
                return list((await session.scalars(select(Event))).all())

        events = server.run(rows())
        exposures = {e.user_id: e for e in events if e.name == "exposure"}
        assert {u: e.variant for u, e in exposures.items()} == variants
        assert {(e.experiment_key, e.environment) for e in exposures.values()} == {("exp", "production")}
        # flag exposures: only for the guarded flag, one per unit, with the server's own id
        flag_exposures = [e for e in events if e.name == "flag_exposure"]
        assert {e.user_id: e.variant for e in flag_exposures} == guarded
        assert len(flag_exposures) == len(guarded) == 100
        marker = f"{started['id']}.{started['step']}"
        assert all(
            e.properties == {"flag": "g", "variation": e.variant}
            and e.experiment_key == "g"
            and e.event_id == exposure_id("production", marker, e.user_id, e.variant or "")
            for e in flag_exposures
        )

        # When the aggregation runs, Then every unit counts in its variant, whoever assigned it
        assert server.run(server.rt.jobs.run("metrics.aggregate"))

        async def snapshot() -> Any:
            async with server.rt.db.transaction() as session:
                return await load_snapshot(session, "exp")

        stats = server.run(snapshot())
        assert stats is not None
        assert stats.units == dict(Counter(variants.values()))
        purchased = stats.metrics["purchased"]
        assert {v: s.sum for v, s in purchased.items()} == dict(Counter(variants.values()))
    finally:
        server.stop()
