"""Issue #14: a metric's value format (count, percent, number, currency with its code, duration with
its unit; a default per kind, validated with clear messages) and where each metric is used."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness

METRICS = "/api/v1/metrics"
FLAGS = "/api/v1/feature-flags"


async def _create(h: Harness, **body: Any) -> Any:
    payload = {"key": "m", "name": "M", "kind": "mean", "event_name": "e"} | body
    return await h.client.post(METRICS, json=payload, headers=await h.admin())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("binomial", "percent"), ("count", "count"), ("sum", "number"), ("mean", "number")],
)
async def test_format__default_of_the_kind(harness: Harness, kind: str, expected: str) -> None:
    created = await _create(harness, kind=kind)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["format"] == {
        "type": expected,
        "currency": None,
        "duration_unit": None,
        "decimals": None,
    }


async def test_format__currency_and_duration_stored_changed_and_cleared(harness: Harness) -> None:
    admin = await harness.admin()
    created = await _create(
        harness, kind="sum", format={"type": "currency", "currency": "EUR", "decimals": 2}
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["format"]["currency"] == "EUR"
    changed = await harness.client.patch(
        f"{METRICS}/m",
        json={"version": 1, "format": {"type": "duration", "duration_unit": "ms"}},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["format"] == {
        "type": "duration",
        "currency": None,
        "duration_unit": "ms",
        "decimals": None,
    }
    cleared = await harness.client.patch(f"{METRICS}/m", json={"version": 2, "format": None}, headers=admin)
    assert cleared.json()["data"]["format"]["type"] == "number"  # back to the default of sum
    audit = await harness.audit(resource_type="metric", action="metric.updated")
    assert any("format" in (r.get("changes") or r.get("after") or {}) for r in audit)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ({"type": "currency"}, 'currency is required for format type "currency"'),
        (
            {"type": "currency", "currency": "euro"},
            "ISO 4217 code of 3 upper-case letters, e.g. EUR (got 'euro')",
        ),
        ({"type": "duration"}, 'duration_unit is required for format type "duration"'),
        ({"type": "percent", "currency": "EUR"}, 'currency is only allowed with format type "currency"'),
        ({"type": "count", "duration_unit": "s"}, "duration_unit is only allowed"),
        ({"type": "stars"}, "'count', 'percent', 'number', 'currency' or 'duration'"),
        ({"type": "number", "decimals": 11}, "less than or equal to 10"),
    ],
)
async def test_format__invalid__422_with_a_clear_message(
    harness: Harness, fmt: dict[str, Any], text: str
) -> None:
    response = await _create(harness, format=fmt)
    assert response.status_code == 422, response.text
    problems = response.json()["error"]["details"]["errors"]
    assert problems[0]["path"].startswith("format")
    assert text in " ".join(p["message"] for p in problems)


async def test_usage__experiments_with_roles_and_guarded_rollouts(harness: Harness) -> None:
    admin = await harness.admin()
    for key, kind in (("conv", "binomial"), ("errors", "count"), ("unused", "count")):
        made = await harness.client.post(
            METRICS, json={"key": key, "name": key.title(), "kind": kind, "event_name": key}, headers=admin
        )
        assert made.status_code == 201
    variants = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
    for key, primary, guardrails in (("exp-a", "conv", ["errors"]), ("exp-b", "errors", [])):
        body = {
            "key": key,
            "name": key.upper(),
            "variants": variants,
            "primary_metric": primary,
            "guardrail_metrics": guardrails,
        }
        assert (await harness.client.post("/api/v1/experiments", json=body, headers=admin)).status_code == 201
    flag = await harness.client.post(FLAGS, json={"key": "checkout", "name": "Checkout"}, headers=admin)
    assert flag.status_code == 201
    env = {"enabled": True, "fallthrough": {"variation": "off"}, "version": 1}
    put = await harness.client.put(f"{FLAGS}/checkout/environments/production", json=env, headers=admin)
    assert put.status_code == 200, put.text
    rollout = await harness.client.post(
        f"{FLAGS}/checkout/guarded-rollouts",
        json={
            "environment": "production",
            "variation": "on",
            "guardrail_metrics": ["errors"],
            "percentage": 50,
        },
        headers=admin,
    )
    assert rollout.status_code == 201, rollout.text

    viewer, _ = await harness.user("viewer")
    usage = await harness.client.get(f"{METRICS}/errors/usage", headers=viewer)
    assert usage.status_code == 200, usage.text
    rows = usage.json()["data"]
    experiments = sorted(
        (r["experiment_key"], r["role"], r["status"])
        for r in rows
        if "flag_key" not in r or not r["flag_key"]
    )
    assert experiments == [("exp-a", "guardrail", "draft"), ("exp-b", "primary", "draft")]
    assert next(r for r in rows if r["experiment_key"] == "exp-a")["experiment_name"] == "EXP-A"
    rollouts = [r for r in rows if r.get("flag_key")]
    assert [(r["role"], r["flag_key"]) for r in rollouts] == [("rollout_guardrail", "checkout")]
    assert rollouts[0]["experiment_key"].startswith("rollout:")
    conv = (await harness.client.get(f"{METRICS}/conv/usage", headers=viewer)).json()["data"]
    assert [(r["experiment_key"], r["role"]) for r in conv] == [("exp-a", "primary")]
    assert (await harness.client.get(f"{METRICS}/unused/usage", headers=viewer)).json()["data"] == []
    assert (await harness.client.get(f"{METRICS}/nope/usage", headers=viewer)).status_code == 404
    assert (await harness.client.get(f"{METRICS}/conv/usage")).status_code == 401


async def test_delete__refused_while_a_guarded_rollout_or_safety_settings_name_it(harness: Harness) -> None:
    # Given a guarded rollout watching "errors" (guardrail) and "conv" (success), and the production
    # safety settings naming "latency"
    admin = await harness.admin()
    for key in ("errors", "conv", "latency"):
        made = await harness.client.post(
            METRICS, json={"key": key, "name": key, "kind": "count", "event_name": key}, headers=admin
        )
        assert made.status_code == 201
    assert (
        await harness.client.post(FLAGS, json={"key": "checkout", "name": "C"}, headers=admin)
    ).status_code == 201
    env = {"enabled": True, "fallthrough": {"variation": "off"}, "version": 1}
    put = await harness.client.put(f"{FLAGS}/checkout/environments/production", json=env, headers=admin)
    assert put.status_code == 200, put.text
    body = {
        "environment": "production",
        "variation": "on",
        "guardrail_metrics": ["errors"],
        "success_metric": "conv",
        "percentage": 50,
    }
    started = await harness.client.post(f"{FLAGS}/checkout/guarded-rollouts", json=body, headers=admin)
    assert started.status_code == 201, started.text
    rollout_id = started.json()["data"]["id"]
    settings = {"guardrail_metrics": ["latency"]}
    url = "/api/v1/environments/production/safety-settings"
    assert (await harness.client.put(url, json=settings, headers=admin)).status_code == 200

    # When each is deleted
    # Then each is refused, naming what uses it
    for key in ("errors", "conv"):
        refused = await harness.client.delete(f"{METRICS}/{key}", headers=admin)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"]["used_by"] == [
            {
                "type": "guarded_rollout",
                "key": rollout_id,
                "flag_key": "checkout",
                "environment": "production",
                "status": "running",
            }
        ]
    refused = await harness.client.delete(f"{METRICS}/latency", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["used_by"] == [{"type": "safety_settings", "key": "production"}]
    assert await harness.audit(action="metric.deleted") == []

    # once the rollout has ended, its metrics may go
    cancel = f"{FLAGS}/checkout/guarded-rollouts/{rollout_id}/cancel"
    assert (await harness.client.post(cancel, headers=admin)).status_code == 200
    assert (await harness.client.delete(f"{METRICS}/errors", headers=admin)).status_code == 200
