"""Experiments over HTTP: validation, lifecycle, editability, sticky assignment, layers, exposures,
scheduler, and flags that hand their decision to an experiment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from scipy import stats

from experimently.experiments.scheduler import run_schedule
from tests.conftest import FakeClock, Harness

EXP = "/api/v1/experiments"
VARIANTS = [
    {"key": "control", "weight": 50, "is_control": True, "payload": {"color": "blue"}},
    {"key": "treatment", "weight": 50, "payload": {"color": "green"}},
]


async def create(h: Harness, key: str = "checkout-color", **extra: Any) -> dict[str, Any]:
    body = {"key": key, "name": key, "variants": VARIANTS, **extra}
    response = await h.client.post(EXP, json=body, headers=await h.admin())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def act(h: Harness, ref: str, action: str, reason: str | None = None) -> Any:
    return await h.client.post(
        f"{EXP}/{ref}/{action}", json={"reason": reason} if reason else None, headers=await h.admin()
    )


def experiment_rule(experiment_key: str) -> dict[str, Any]:
    """A flag rule serving the experiment to everyone: control -> off, treatment -> on."""
    variations = {"control": "off", "treatment": "on"}
    return {
        "id": "exp",
        "conditions": [],
        "serve": {"experiment": {"key": experiment_key, "variations": variations}},
    }


async def assign(h: Harness, key: str, unit: str, headers: dict[str, str], **context: Any) -> dict[str, Any]:
    response = await h.client.post(
        f"{EXP}/{key}/assign", json={"unit_id": unit, "context": context}, headers=headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.parametrize(
    ("variants", "extra", "path"),
    [
        ([VARIANTS[0]], {}, "variants"),
        ([{**VARIANTS[0], "is_control": False}, VARIANTS[1]], {}, "variants"),
        ([VARIANTS[0], {**VARIANTS[1], "key": "control"}], {}, "variants"),
        ([VARIANTS[0], {**VARIANTS[1], "weight": 40}], {}, "variants"),
        (VARIANTS, {"traffic_allocation": 120}, "traffic_allocation"),
        (
            VARIANTS,
            {"targeting": [{"attribute": "a", "operator": "bogus", "values": [1]}]},
            "targeting[0].operator",
        ),
        (VARIANTS, {"planned_start": "2030-01-02T00:00:00Z", "planned_end": "2030-01-01T00:00:00Z"}, "body"),
    ],
)
async def test_create__invalid__422_with_path(
    harness: Harness, variants: list[Any], extra: dict[str, Any], path: str
) -> None:
    body = {"key": "x", "name": "x", "variants": variants, **extra}
    response = await harness.client.post(EXP, json=body, headers=await harness.admin())
    assert response.status_code == 422, response.text
    paths = [e["path"] for e in response.json()["error"]["details"]["errors"]]
    assert any(p.startswith(path) for p in paths), paths


async def test_create__duplicate_key__409(harness: Harness) -> None:
    await create(harness)
    again = await harness.client.post(
        EXP, json={"key": "checkout-color", "name": "n", "variants": VARIANTS}, headers=await harness.admin()
    )
    assert again.status_code == 409


ALL_ACTIONS = ["schedule", "unschedule", "start", "pause", "resume", "complete", "archive"]
VALID = {
    "draft": {"schedule": "scheduled", "start": "running", "archive": "archived"},
    "scheduled": {"unschedule": "draft", "start": "running"},
    "running": {"pause": "paused", "complete": "completed"},
    "paused": {"resume": "running", "complete": "completed"},
    "completed": {"archive": "archived"},
    "archived": {},
}
PATH_TO = {
    "draft": [],
    "scheduled": ["schedule"],
    "running": ["start"],
    "paused": ["start", "pause"],
    "completed": ["start", "complete"],
    "archived": ["archive"],
}


@pytest.mark.parametrize("state", list(VALID))
async def test_every_transition_from_each_state(harness: Harness, state: str) -> None:
    for action in ALL_ACTIONS:
        exp = await create(harness, f"exp-{action}", planned_start="2030-01-01T00:00:00Z")
        for step in PATH_TO[state]:
            assert (await act(harness, exp["id"], step)).status_code == 200
        response = await act(harness, exp["id"], action, reason="because")
        if action in VALID[state]:
            assert response.status_code == 200, (state, action, response.text)
            assert response.json()["data"]["status"] == VALID[state][action]
        else:
            assert response.status_code == 409, (state, action)
            error = response.json()["error"]
            assert error["code"] == "INVALID_STATE_TRANSITION"
            assert error["details"]["allowed"] == list(VALID[state])


async def test_transition__audited_with_reason_and_domain_event(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start", reason="launch review ok")
    record = (await harness.audit(action="experiment.start"))[0]
    assert record["reason"] == "launch review ok" and record["actor_label"] == "admin@example.com"
    assert record["diff"]["status"] == {"before": "draft", "after": "running"}
    from sqlalchemy import select

    from experimently.webhooks.models import DomainEvent

    async with harness.runtime.db.sessions() as session:
        events = (await session.scalars(select(DomainEvent))).all()
    assert [e.type for e in events] == ["experiment.started"]


async def test_running__variants_frozen__allocation_only_rises(harness: Harness) -> None:
    exp = await create(harness, traffic_allocation=50)
    await act(harness, exp["key"], "start")
    reweight = await harness.client.patch(
        f"{EXP}/{exp['key']}",
        json={"version": 2, "variants": [{**VARIANTS[0], "weight": 90}, {**VARIANTS[1], "weight": 10}]},
        headers=await harness.admin(),
    )
    assert reweight.status_code == 422
    assert reweight.json()["error"]["details"]["errors"][0]["path"] == "variants"
    lower = await harness.client.patch(
        f"{EXP}/{exp['key']}", json={"version": 2, "traffic_allocation": 40}, headers=await harness.admin()
    )
    assert lower.status_code == 422
    higher = await harness.client.patch(
        f"{EXP}/{exp['key']}", json={"version": 2, "traffic_allocation": 80}, headers=await harness.admin()
    )
    assert higher.status_code == 200 and higher.json()["data"]["traffic_allocation"] == 80
    # a request that changes nothing (no field, or the same value) is no change: no version, no record
    records = len(await harness.audit(action="experiment.updated"))
    for body in ({"version": 3}, {"version": 3, "traffic_allocation": 80}):
        same = await harness.client.patch(f"{EXP}/{exp['key']}", json=body, headers=await harness.admin())
        assert same.status_code == 200 and same.json()["data"]["version"] == 3, same.text
    assert len(await harness.audit(action="experiment.updated")) == records


async def test_assignment__deterministic_sticky_across_allocation_and_weight_changes(
    harness: Harness,
) -> None:
    exp = await create(harness, traffic_allocation=30)
    await act(harness, exp["key"], "start")
    key = await harness.api_key(["evaluate"])
    units = [f"u{i}" for i in range(300)]
    bulk = await harness.client.post(
        f"{EXP}/{exp['key']}/assign/bulk", json={"units": [{"unit_id": u} for u in units]}, headers=key
    )
    first = {r["unit_id"]: r for r in bulk.json()["data"]}
    entered = {u for u, r in first.items() if r["in_experiment"]}
    assert 50 < len(entered) < 130  # ~30% of 300
    assert {r["reason"] for r in first.values()} == {"ASSIGNED", "TRAFFIC_EXCLUDED"}
    one = next(iter(entered))
    assert first[one]["payload"] == (
        {"color": "blue"} if first[one]["variant"] == "control" else {"color": "green"}
    )

    await harness.client.patch(
        f"{EXP}/{exp['key']}", json={"version": 2, "traffic_allocation": 100}, headers=await harness.admin()
    )
    await act(harness, exp["key"], "pause")
    reweighted = await harness.client.patch(
        f"{EXP}/{exp['key']}",
        json={"version": 4, "variants": [{**VARIANTS[0], "weight": 1}, {**VARIANTS[1], "weight": 99}]},
        headers=await harness.admin(),
    )
    assert reweighted.status_code == 200, reweighted.text
    assert reweighted.json()["data"]["reweighted_at"] is not None  # SDKs ask the server from now on
    # what a variant is (its payload, its name) stays as its units saw it: only weights change
    for field, value in (("payload", {"color": "red"}), ("name", "Red")):
        variants = [{**VARIANTS[0], "weight": 1}, {**VARIANTS[1], "weight": 99, field: value}]
        changed = await harness.client.patch(
            f"{EXP}/{exp['key']}",
            json={"version": 5, "variants": variants},
            headers=await harness.admin(),
        )
        assert changed.status_code == 422, changed.text
        assert changed.json()["error"]["details"]["errors"][0]["path"] == f"variants[1].{field}"
    paused = await assign(harness, exp["key"], one, key)
    assert paused["in_experiment"] is False and paused["reason"] == "NOT_RUNNING"
    await act(harness, exp["key"], "resume")

    again = await harness.client.post(
        f"{EXP}/{exp['key']}/assign/bulk", json={"units": [{"unit_id": u} for u in units]}, headers=key
    )
    second = {r["unit_id"]: r for r in again.json()["data"]}
    for unit in entered:  # every unit that saw a variant keeps it, whatever the new weights say
        assert second[unit]["variant"] == first[unit]["variant"] and second[unit]["reason"] == "STICKY"
    newcomers = [r for u, r in second.items() if u not in entered]
    assert all(r["in_experiment"] for r in newcomers)  # allocation is now 100%
    assert sum(r["variant"] == "treatment" for r in newcomers) > 0.9 * len(newcomers)


async def test_assignment__reasons(harness: Harness) -> None:
    exp = await create(harness, targeting=[{"attribute": "country", "operator": "in", "values": ["DE"]}])
    key = await harness.api_key(["evaluate"])
    assert (await assign(harness, exp["key"], "u1", key, country="DE"))["reason"] == "NOT_RUNNING"
    await act(harness, exp["key"], "start")
    assert (await assign(harness, exp["key"], "u1", key, country="US"))["reason"] == "NOT_TARGETED"
    assert (await assign(harness, exp["key"], "u1", key, country="DE"))["reason"] == "ASSIGNED"
    staging = await harness.api_key(["evaluate"], environment="staging")
    assert (await assign(harness, exp["key"], "u1", staging, country="DE"))["reason"] == "WRONG_ENVIRONMENT"
    missing = await harness.client.post(f"{EXP}/{exp['key']}/assign", json={"context": {}}, headers=key)
    assert missing.json()["data"]["reason"] == "MISSING_UNIT"
    unknown = await harness.client.post(f"{EXP}/nope/assign", json={"unit_id": "u"}, headers=key)
    assert unknown.status_code == 404


async def test_exposure__recorded_once_per_unit(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    key = await harness.api_key(["evaluate"])
    for _ in range(3):
        await assign(harness, exp["key"], "same-unit", key)
    history = await harness.client.get(f"{EXP}/units/same-unit/assignments", headers=key)
    assert len(history.json()["data"]) == 1
    from experimently.experiments.repository import count_assignments

    async with harness.runtime.db.sessions() as session:
        assert sum((await count_assignments(session, exp["id"])).values()) == 1


async def test_100k_assignments__within_chi_square_bounds(harness: Harness) -> None:
    weights = [
        {"key": "a", "weight": 20, "is_control": True},
        {"key": "b", "weight": 30},
        {"key": "c", "weight": 50},
    ]
    exp = await create(harness, "three-way", variants=weights)
    await act(harness, exp["key"], "start")
    live = await harness.runtime.assignments.experiment("three-way")
    from experimently_sdk import assign as engine_assign

    counts = {"a": 0, "b": 0, "c": 0}
    for i in range(100_000):
        counts[str(engine_assign(live.compiled, {"user_id": f"user-{i}"}).variant)] += 1
    _, p_value = stats.chisquare([counts["a"], counts["b"], counts["c"]], [20_000, 30_000, 50_000])
    assert p_value > 0.001, counts


async def test_layer__exclusive_over_100k_units__and_over_allocation_refused(harness: Harness) -> None:
    admin = await harness.admin()
    assert (
        await harness.client.post(
            "/api/v1/layers", json={"key": "checkout", "name": "Checkout"}, headers=admin
        )
    ).status_code == 201
    await create(harness, "left", layer="checkout", layer_share=60)
    await create(harness, "right", layer="checkout", layer_share=40)
    full = await harness.client.post(
        EXP,
        json={"key": "third", "name": "t", "variants": VARIANTS, "layer": "checkout", "layer_share": 10},
        headers=admin,
    )
    assert full.status_code == 409 and full.json()["error"]["details"]["free_buckets"] == 0
    for key in ("left", "right"):
        await act(harness, key, "start")
    service = harness.runtime.assignments
    left, right = await service.experiment("left"), await service.experiment("right")
    from experimently_sdk import assign as engine_assign

    both = in_left = in_right = 0
    for i in range(100_000):
        ctx = {"user_id": f"unit-{i}"}
        a, b = engine_assign(left.compiled, ctx).variant, engine_assign(right.compiled, ctx).variant
        both += a is not None and b is not None
        in_left += a is not None
        in_right += b is not None
    assert both == 0
    assert 59_000 < in_left < 61_000 and 39_000 < in_right < 41_000
    layers = await harness.client.get("/api/v1/layers", headers=admin)
    assert layers.json()["data"][0]["free_buckets"] == 0


async def test_scheduler__starts_and_completes_on_time_idempotent_catches_up(
    harness: Harness, fake_clock: FakeClock
) -> None:
    start = fake_clock.moment + timedelta(hours=1)
    exp = await create(
        harness, planned_start=start.isoformat(), planned_end=(start + timedelta(days=7)).isoformat()
    )
    assert (await act(harness, exp["key"], "schedule")).status_code == 200
    db, cache = harness.runtime.db, harness.runtime.cache
    assert await run_schedule(db, cache) == 0
    fake_clock.advance(hours=2)
    assert await run_schedule(db, cache) == 1
    assert await run_schedule(db, cache) == 0
    harness.tokens.clear()
    status = (await harness.client.get(f"{EXP}/{exp['key']}", headers=await harness.admin())).json()["data"]
    assert status["status"] == "running"
    fake_clock.advance(days=30)  # downtime: completion still happens on the next run
    assert await run_schedule(db, cache) == 1
    harness.tokens.clear()
    status = (await harness.client.get(f"{EXP}/{exp['key']}", headers=await harness.admin())).json()["data"]
    assert status["status"] == "completed"
    records = await harness.audit(resource_id=exp["id"])
    system = [r["action"] for r in records if r["actor_type"] == "system"]
    assert system == ["experiment.complete", "experiment.start"]


async def test_list__filters_sort_pagination(harness: Harness) -> None:
    for key in ("b-exp", "a-exp", "c-exp"):
        await create(harness, key, tags=["growth"] if key != "c-exp" else [])
    await act(harness, "a-exp", "start")
    admin = await harness.admin()
    running = await harness.client.get(EXP, params={"status": "running"}, headers=admin)
    assert [e["key"] for e in running.json()["data"]] == ["a-exp"]
    by_key = await harness.client.get(EXP, params={"sort": "key", "limit": 2}, headers=admin)
    assert [e["key"] for e in by_key.json()["data"]] == ["a-exp", "b-exp"]
    assert by_key.json()["meta"]["pagination"]["total"] == 3
    tagged = await harness.client.get(EXP, params={"tag": "growth", "q": "B-"}, headers=admin)
    assert [e["key"] for e in tagged.json()["data"]] == ["b-exp"]


async def test_flag_serves_experiment__assignment_and_mapping(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    await harness.client.post(
        "/api/v1/feature-flags", json={"key": "checkout-flag", "name": "f"}, headers=admin
    )
    config = {
        "enabled": True,
        "version": 1,
        "rules": [
            {
                "id": "vip",
                "conditions": [{"attribute": "vip", "operator": "eq", "values": [True]}],
                "serve": {"variation": "on"},
            },
            experiment_rule(exp["key"]),
        ],
        "fallthrough": {"variation": "off"},
    }
    put = await harness.client.put(
        "/api/v1/feature-flags/checkout-flag/environments/production", json=config, headers=admin
    )
    assert put.status_code == 200, put.text
    key = await harness.api_key(["evaluate"])
    results = {}
    for i in range(40):
        response = await harness.client.post(
            "/api/v1/feature-flags/checkout-flag/evaluate", json={"user_id": f"u{i}"}, headers=key
        )
        results[f"u{i}"] = response.json()["data"]
    for unit, result in results.items():
        assigned = await assign(harness, exp["key"], unit, key)
        assert assigned["reason"] == "STICKY"  # the flag evaluation made the assignment
        assert result["experiment_variant"] == assigned["variant"]
        assert result["value"] is (assigned["variant"] == "treatment")
    vip = await harness.client.post(
        "/api/v1/feature-flags/checkout-flag/evaluate",
        json={"user_id": "vip-1", "context": {"vip": True}},
        headers=key,
    )
    assert vip.json()["data"]["rule_id"] == "vip"
    history = await harness.client.get(f"{EXP}/units/vip-1/assignments", headers=key)
    assert history.json()["data"] == []  # the experiment rule was never reached: no assignment, no exposure


async def test_ownership__developer_cannot_start_anothers_experiment(harness: Harness) -> None:
    alice, _ = await harness.user("developer", "alice@example.com")
    bob, _ = await harness.user("developer", "bob@example.com")
    made = await harness.client.post(
        EXP, json={"key": "alices", "name": "a", "variants": VARIANTS}, headers=alice
    )
    assert made.status_code == 201
    assert (await harness.client.post(f"{EXP}/alices/start", headers=bob)).status_code == 403
    assert (await harness.client.post(f"{EXP}/alices/start", headers=alice)).status_code == 200


async def test_metrics__must_be_defined__422_with_paths(harness: Harness) -> None:
    admin = await harness.admin()
    made = await harness.client.post(
        "/api/v1/metrics",
        json={"key": "purchase", "name": "P", "kind": "binomial", "event_name": "purchase"},
        headers=admin,
    )
    assert made.status_code == 201
    body = {
        "key": "m",
        "name": "m",
        "variants": VARIANTS,
        "primary_metric": "purchase",
        "secondary_metrics": ["purchase", "ghost"],
        "guardrail_metrics": ["nope"],
    }
    response = await harness.client.post(EXP, json=body, headers=admin)
    assert response.status_code == 422
    paths = [e["path"] for e in response.json()["error"]["details"]["errors"]]
    assert paths == ["secondary_metrics[1]", "guardrail_metrics[0]"]


async def test_segment_targeting__works_and_blocks_segment_deletion(harness: Harness) -> None:
    admin = await harness.admin()
    segment = {
        "key": "germans",
        "name": "DE",
        "conditions": [{"attribute": "country", "operator": "eq", "values": ["DE"]}],
    }
    assert (await harness.client.post("/api/v1/segments", json=segment, headers=admin)).status_code == 201
    exp = await create(
        harness, targeting=[{"attribute": "", "operator": "in_segment", "values": ["germans"]}]
    )
    await act(harness, exp["key"], "start")
    key = await harness.api_key(["evaluate"])
    assert (await assign(harness, exp["key"], "u1", key, country="DE"))["reason"] == "ASSIGNED"
    assert (await assign(harness, exp["key"], "u2", key, country="FR"))["reason"] == "NOT_TARGETED"
    blocked = await harness.client.delete("/api/v1/segments/germans", headers=admin)
    assert blocked.status_code == 409
    assert blocked.json()["error"]["details"]["used_by"] == [{"type": "experiment", "key": exp["key"]}]


async def test_history__an_api_key_sees_its_environment_only(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    production = await harness.api_key(["evaluate"])
    await assign(harness, exp["key"], "u1", production)
    staging = await harness.api_key(["evaluate"], environment="staging")
    assert (await harness.client.get(f"{EXP}/units/u1/assignments", headers=staging)).json()["data"] == []
    assert (
        len((await harness.client.get(f"{EXP}/units/u1/assignments", headers=production)).json()["data"]) == 1
    )


async def test_batch_evaluation__flag_serving_experiment__assigns_like_single(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    await harness.client.post("/api/v1/feature-flags", json={"key": "f", "name": "f"}, headers=admin)
    rule = {
        "id": "e",
        "conditions": [],
        "serve": {"experiment": {"key": exp["key"], "variations": {"control": "off", "treatment": "on"}}},
    }
    put = await harness.client.put(
        "/api/v1/feature-flags/f/environments/production",
        json={"version": 1, "enabled": True, "rules": [rule]},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    key = await harness.api_key(["evaluate"])
    batch = await harness.client.post(
        "/api/v1/feature-flags/evaluate/batch",
        json={"flag_key": "f", "users": [{"user_id": f"u{i}"} for i in range(20)]},
        headers=key,
    )
    for i, result in enumerate(batch.json()["data"]["results"]):
        assigned = await assign(harness, exp["key"], f"u{i}", key)
        assert assigned["reason"] == "STICKY" and result["experiment_variant"] == assigned["variant"]
    everything = await harness.client.post(
        "/api/v1/feature-flags/evaluate/batch", json={"user_id": "u0"}, headers=key
    )
    assert everything.json()["data"]["flags"]["f"]["experiment_key"] == exp["key"]


async def test_sticky_reads__cached__and_dropped_by_privacy_erasure(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    key = await harness.api_key(["evaluate"])
    first = await assign(harness, exp["key"], "erase-me", key)
    assert (await assign(harness, exp["key"], "erase-me", key))["reason"] == "STICKY"
    service = harness.runtime.assignments
    assert service.sticky.get_many(exp["id"], ["erase-me"]) == {"erase-me": first["variant"]}
    erased = await harness.client.delete("/api/v1/privacy/users/erase-me", headers=await harness.admin())
    assert erased.status_code == 200, erased.text
    assert service.sticky.get_many(exp["id"], ["erase-me"]) == {}
    history = await harness.client.get(f"{EXP}/units/erase-me/assignments", headers=key)
    assert history.json()["data"] == []


async def test_metric_named_by_an_experiment__cannot_be_deleted(harness: Harness) -> None:
    admin = await harness.admin()
    metric = {"key": "purchase", "name": "P", "kind": "binomial", "event_name": "purchase"}
    assert (await harness.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    await create(harness, guardrail_metrics=["purchase"])
    refused = await harness.client.delete("/api/v1/metrics/purchase", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["used_by"] == [{"type": "experiment", "key": "checkout-color"}]


async def test_update__explicit_null_clears_primary_metric_and_sample_size(harness: Harness) -> None:
    admin = await harness.admin()
    await harness.client.post(
        "/api/v1/metrics",
        json={"key": "buys", "name": "b", "kind": "count", "event_name": "buy"},
        headers=admin,
    )
    exp = await create(harness, "clearable", primary_metric="buys", min_sample_size=500)
    assert (exp["primary_metric"], exp["min_sample_size"]) == ("buys", 500)
    patched = await harness.client.patch(
        f"{EXP}/clearable",
        json={"primary_metric": None, "min_sample_size": None, "version": exp["version"]},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert (data["primary_metric"], data["min_sample_size"]) == (None, None)
    # a field left out is left as it is
    renamed = await harness.client.patch(
        f"{EXP}/clearable", json={"name": "renamed", "version": data["version"]}, headers=admin
    )
    assert renamed.json()["data"]["hypothesis"] == exp["hypothesis"]
