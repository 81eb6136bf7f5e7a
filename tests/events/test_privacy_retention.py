"""Privacy export/erasure leaves nothing behind; retention deletes by age (whole partitions on
PostgreSQL) and is audited as the system actor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from experimently.audit.models import AuditLog
from experimently.events.models import Event, EventKey
from experimently.events.partitions import maintain_partitions
from experimently.events.pipeline import write_rows
from experimently.events.repository import existing_partitions
from experimently.events.validation import EventRow
from experimently.kit.clock import to_us
from experimently.metrics.aggregation import ExperimentSpec, load_snapshot, recompute_from_scratch
from experimently.metrics.models import AggregationState
from tests.conftest import FakeClock, Harness
from tests.events.helpers import count_rows, flush, post_batch


async def test_erase__user_gone_everywhere__others_kept__audited(
    harness: Harness, fake_clock: FakeClock
) -> None:
    admin = await harness.admin()
    await harness.client.post(
        "/api/v1/metrics",
        json={"key": "buys", "name": "b", "kind": "count", "event_name": "buy"},
        headers=admin,
    )
    spec = ExperimentSpec("exp", ("a", "b"), ("buys",), None)

    async def provider(_session: Any) -> list[ExperimentSpec]:
        return [spec]

    harness.runtime.aggregation_specs = provider
    events: list[dict[str, Any]] = []
    for user, variant in (("alice", "a"), ("bob", "b")):
        events += [
            {
                "name": "exposure",
                "user_id": user,
                "experiment_key": "exp",
                "variant": variant,
                "event_id": f"exposure:exp:{user}",
            },
            {"name": "buy", "user_id": user, "value": 3},
        ]
    await post_batch(harness, await harness.api_key(["track"]), events)
    await flush(harness)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    exported = await harness.client.get("/api/v1/privacy/users/alice/export", headers=admin)
    assert exported.status_code == 200
    data = exported.json()["data"]["data"]
    assert len(data["events"]) == 2
    assert data["experiment_statistics"] == [
        {
            "experiment_key": "exp",
            "variant": "a",
            "first_exposure_day": data["experiment_statistics"][0]["first_exposure_day"],
            "multi_variant": False,
            "metrics": {"buys": {"value": 1.0, "pre_value": 0.0, "denominator": 0.0}},
        }
    ]
    async with harness.runtime.db.transaction() as session:
        before = await load_snapshot(session, "exp")
    assert before is not None and before.units == {"a": 1, "b": 1}

    erased = await harness.client.delete("/api/v1/privacy/users/alice", headers=admin)
    assert erased.status_code == 200
    assert erased.json()["data"] == {"events": 2, "experiment_statistics": 1} | {
        k: v for k, v in erased.json()["data"].items() if k not in ("events", "experiment_statistics")
    }
    assert await count_rows(harness, Event, user_id="alice") == 0
    # alice's contribution is retracted: the statistics equal a recompute over what is left
    async with harness.runtime.db.transaction() as session:
        retracted = await load_snapshot(session, "exp")
    async with harness.runtime.db.transaction() as session:
        await recompute_from_scratch(session, spec)
        scratch = await load_snapshot(session, "exp")
    assert retracted is not None and scratch is not None
    assert retracted.units == scratch.units == {"b": 1}
    assert retracted.metrics == scratch.metrics and retracted.series == scratch.series
    assert await count_rows(harness, EventKey, event_id="exposure:exp:alice") == 0
    assert await count_rows(harness, Event, user_id="bob") == 2
    again = (await harness.client.get("/api/v1/privacy/users/alice/export", headers=admin)).json()["data"][
        "data"
    ]
    assert again["events"] == [] and again["experiment_statistics"] == []
    records = await harness.audit(resource_type="privacy_subject")
    assert sorted(r["action"] for r in records) == ["privacy.erased", "privacy.exported", "privacy.exported"]
    assert all("alice" not in str(r) for r in records)
    analyst, _ = await harness.user("analyst")
    assert (await harness.client.delete("/api/v1/privacy/users/bob", headers=analyst)).status_code == 403


def row(event_id: str, days_ago: float, now_us: int) -> EventRow:
    ts = now_us - int(days_ago * 86_400_000_000)
    return EventRow(event_id, "c", "u", None, None, None, None, {}, ts, ts)


async def test_retention__old_events_statistics_audit_deleted__recent_kept(
    harness: Harness, fake_clock: FakeClock
) -> None:
    db, settings = harness.runtime.db, harness.settings
    now_us = to_us(fake_clock.moment)
    fake_clock.advance(days=-100)
    await maintain_partitions(db, settings)  # PostgreSQL: partitions for the old days exist
    fake_clock.advance(days=100)
    await maintain_partitions(db, settings)
    await write_rows(db, [row("old", 95, now_us), row("older", 99, now_us), row("new", 1, now_us)])
    async with db.transaction() as session:
        for key, days in (("ended", 800), ("running", 0)):
            at = fake_clock.moment - timedelta(days=days)
            session.add(AggregationState(experiment_key=key, last_seq=1, fingerprint="f", aggregated_at=at))
        session.add(
            AuditLog(
                occurred_at=fake_clock.moment - timedelta(days=3000),
                actor_type="system",
                action="ancient",
                resource_type="x",
            )
        )
    before = None
    if harness.backend == "postgres":
        async with db.transaction() as session:
            before = len(await existing_partitions(session))
    assert await harness.runtime.jobs.run("events.retention")
    assert await count_rows(harness, Event) == 1
    assert await count_rows(harness, EventKey) == 1
    assert await count_rows(harness, AggregationState) == 1
    assert await count_rows(harness, AggregationState, experiment_key="running") == 1
    assert await count_rows(harness, AuditLog, action="ancient") == 0
    kinds = {r["resource_type"] for r in await harness.audit(action="retention.deleted")}
    assert kinds == {"events", "experiment_statistics", "audit_logs"}
    if harness.backend == "postgres":
        async with db.transaction() as session:
            after = len(await existing_partitions(session))
            in_default = await session.scalar(text("SELECT count(*) FROM events_default"))
        assert before is not None and before - after >= 5 and in_default == 0


async def test_user_id_with_a_slash__exported_and_erased(harness: Harness) -> None:
    """``org/42`` is a user id like any other: ``org%2F42`` in the path reaches it (the server routes the
    decoded path), for export, erasure and the assignment history alike."""
    admin = await harness.admin()
    await post_batch(
        harness,
        await harness.api_key(["track"]),
        [{"name": "buy", "user_id": "org/42", "value": 1}, {"name": "buy", "user_id": "org", "value": 1}],
    )
    await flush(harness)
    exported = await harness.client.get("/api/v1/privacy/users/org%2F42/export", headers=admin)
    assert exported.status_code == 200, exported.text
    assert [e["user_id"] for e in exported.json()["data"]["data"]["events"]] == ["org/42"]
    history = await harness.client.get("/api/v1/experiments/units/org%2F42/assignments", headers=admin)
    assert history.status_code == 200, history.text
    erased = await harness.client.delete("/api/v1/privacy/users/org%2F42", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["data"]["events"] == 1
    assert await count_rows(harness, Event, user_id="org/42") == 0
    assert await count_rows(harness, Event, user_id="org") == 1
