"""Inputs that used to answer 500: each now answers 4xx, or a statistics result with a message code."""

from __future__ import annotations

import time

import jwt
import pytest

from experimently.auth.security import ALGORITHM, ISSUER
from experimently.stats import Alternative, MetricKind, VariantStats, analyze_metric, sample_size
from experimently.stats.model import MessageCode
from tests.conftest import Harness

FLAGS = "/api/v1/feature-flags"


async def test_evaluate_get__default_nested_1000_deep__422_with_path(harness: Harness) -> None:
    # Given a flag and an evaluate key
    admin = await harness.admin()
    created = await harness.client.post(FLAGS, json={"key": "f", "name": "f"}, headers=admin)
    assert created.status_code == 201, created.text
    key = await harness.api_key(["evaluate"])
    # When ?default= is a JSON array nested 1,000 deep
    deep = "[" * 1000 + "]" * 1000
    response = await harness.client.get(
        f"{FLAGS}/f/evaluate", params={"user_id": "u", "default": deep}, headers=key
    )
    # Then 422 names the parameter
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["errors"][0]["path"] == "default"
    # And a shallow JSON default still works
    shallow = await harness.client.get(
        f"{FLAGS}/f/evaluate", params={"user_id": "u", "default": "[[1]]"}, headers=key
    )
    assert shallow.status_code == 200, shallow.text


async def test_patch_metric__kind_null__422_with_path(harness: Harness) -> None:
    admin = await harness.admin()
    created = await harness.client.post(
        "/api/v1/metrics", json={"key": "m", "name": "m", "kind": "count", "event_name": "e"}, headers=admin
    )
    assert created.status_code == 201, created.text
    response = await harness.client.patch(
        "/api/v1/metrics/m", json={"version": 1, "kind": None, "name": None}, headers=admin
    )
    assert response.status_code == 422, response.text
    paths = {e["path"] for e in response.json()["error"]["details"]["errors"]}
    assert paths == {"kind", "name"}
    # And a nullable field may still be cleared
    cleared = await harness.client.patch(
        "/api/v1/metrics/m", json={"version": 1, "description": None}, headers=admin
    )
    assert cleared.status_code == 200, cleared.text


@pytest.mark.parametrize(
    "claims",
    [{"exp": "9999999999"}, {"iat": "x"}, {"exp": 1e400}, {"exp": True}, {"iat": 1e20}, {"iat": -1e20}],
)
async def test_signed_jwt__non_numeric_dates__401(harness: Harness, claims: dict[str, object]) -> None:
    # Given a token signed with the real secret whose exp/iat is not a number
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "someone", "typ": "access", "iat": now, "exp": now + 600, **claims}
    token = jwt.encode(payload, harness.settings.secret, algorithm=ALGORITHM)
    # When presented, Then it is refused as any invalid token (never a 500)
    response = await harness.client.get(FLAGS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "binomial", "baseline_mean": 0.1, "relative_mde": 0.05, "alpha": 1e-16},
        {
            "kind": "binomial",
            "baseline_mean": 0.1,
            "relative_mde": 0.05,
            "alpha": 1e-300,
            "daily_units": 1e-300,
        },
        {"kind": "mean", "baseline_mean": 1e-90, "baseline_variance": 1.0, "relative_mde": 1e-300},
        {
            "kind": "mean",
            "baseline_mean": 1.0,
            "baseline_variance": 1e-300,
            "units_per_arm": 10,
            "alpha": 1e-300,
        },
        {"kind": "mean", "baseline_mean": 1e154, "baseline_variance": 1e300, "relative_mde": 1e-300},
    ],
)
async def test_power__extreme_finite_floats__200_with_result(
    harness: Harness, body: dict[str, object]
) -> None:
    response = await harness.client.post("/api/v1/analysis/power", json=body, headers=await harness.admin())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("control", "treatment", "extra"),
    [
        ((1000, 1e-87, 1e-170), (1000, 2e-87, 1e-170), {}),
        ((1000, 1e154, 1e308), (1000, -1e154, 1e308), {}),
        ((1000, 100.0, 1000.0), (1000, 110.0, 1100.0), {"engine": "bayesian", "prior": {"variance": 1e-300}}),
        ((1000, 100.0, 1000.0), (1000, 110.0, 1100.0), {"engine": "sequential", "sequential_tuning": 1e-300}),
        ((1000, 100.0, 1000.0), (1000, 110.0, 1100.0), {"weights": {"control": 1e-300, "t": 1e300}}),
    ],
)
async def test_compute__extreme_finite_floats__200_with_message_or_figures(
    harness: Harness,
    control: tuple[int, float, float],
    treatment: tuple[int, float, float],
    extra: dict[str, object],
) -> None:
    variants = [
        {"key": key, "n": n, "sum": total, "sum_squares": squares}
        for key, (n, total, squares) in (("control", control), ("t", treatment))
    ]
    body = {"metrics": [{"kind": "mean", "variants": variants}], "control": "control", **extra}
    response = await harness.client.post("/api/v1/analysis/compute", json=body, headers=await harness.admin())
    assert response.status_code == 200, response.text


def test_sample_size__alpha_1e16__finite_answer() -> None:
    # isf keeps the precision that ppf(1 - alpha/2) loses (1 - 5e-17 rounds to 1.0)
    result = sample_size(MetricKind.BINOMIAL, 0.1, 0.05, alpha=1e-16)
    assert result.units_per_arm is not None and result.units_per_arm > 0


def test_sample_size__result_beyond_doubles__numeric_range() -> None:
    result = sample_size(MetricKind.MEAN, 1e-90, 1e-300, baseline_variance=1.0)
    assert result.units_per_arm is None
    assert MessageCode.NUMERIC_RANGE in result.messages


def test_compare__control_mean_1e_90__numeric_range_message() -> None:
    variants = [VariantStats("control", 1000, 1e-87, 1e-170), VariantStats("t", 1000, 2e-87, 1e-170)]
    analysis = analyze_metric(
        MetricKind.MEAN, variants, control_key="control", alternative=Alternative.TWO_SIDED
    )
    assert MessageCode.NUMERIC_RANGE in analysis.comparisons[0].messages


async def test_version__a_string_or_a_boolean__422_not_read_as_a_number(harness: Harness) -> None:
    """`"version": true` was read as version 1 (and `"2"` as 2): an edit landed on whatever the
    client's bug happened to name."""
    admin = await harness.admin()
    created = await harness.client.post(
        "/api/v1/segments", json={"key": "beta", "name": "Beta", "conditions": []}, headers=admin
    )
    assert created.status_code == 201, created.text
    for version in (True, "1", 1.0):
        response = await harness.client.patch(
            "/api/v1/segments/beta", json={"name": "B", "version": version}, headers=admin
        )
        assert response.status_code == 422, (version, response.text)
        assert response.json()["error"]["details"]["errors"][0]["path"] == "version"
    ok = await harness.client.patch("/api/v1/segments/beta", json={"name": "B", "version": 1}, headers=admin)
    assert ok.status_code == 200, ok.text


async def test_lifecycle_bodies__unknown_fields__422(harness: Harness) -> None:
    """`{"reasn": "typo"}` on pause was accepted and the reason lost."""
    admin = await harness.admin()
    assert (
        await harness.client.post("/api/v1/feature-flags", json={"key": "f", "name": "f"}, headers=admin)
    ).status_code == 201
    killed = await harness.client.post(
        "/api/v1/feature-flags/f/environments/production/kill", json={"reasn": "typo"}, headers=admin
    )
    assert killed.status_code == 422 and "reasn" in killed.text
    variants = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
    exp = await harness.client.post(
        "/api/v1/experiments", json={"key": "e", "name": "e", "variants": variants}, headers=admin
    )
    assert exp.status_code == 201, exp.text
    started = await harness.client.post("/api/v1/experiments/e/start", json={"reasn": "typo"}, headers=admin)
    assert started.status_code == 422 and "reasn" in started.text


async def test_api_key__expiring_in_the_past__422(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/api-keys",
        json={
            "name": "k",
            "environment": "production",
            "scopes": ["evaluate"],
            "expires_at": "2000-01-01T00:00:00Z",
        },
        headers=await harness.admin(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["errors"][0]["path"] == "expires_at"


@pytest.mark.parametrize("default", ["NaN", "Infinity", "-Infinity", "1e999", "[1, NaN]"])
async def test_evaluate_get__default_not_json_number__served_as_text(harness: Harness, default: str) -> None:
    # Given an evaluate key and no such flag
    key = await harness.api_key(["evaluate"])
    # When ?default= is a number JSON cannot carry
    response = await harness.client.get(
        f"{FLAGS}/missing/evaluate", params={"user_id": "u", "default": default}, headers=key
    )
    # Then it is plain text, served as the default, not a 500
    assert response.status_code == 200, response.text
    assert response.json()["data"]["value"] == default


EXPERIMENTS = "/api/v1/experiments"
VARIANTS = [{"key": "a", "weight": 50, "is_control": True}, {"key": "b", "weight": 50}]


async def test_instants__without_offset_taken_as_utc__mixed_forms_compare(harness: Harness) -> None:
    # Given a start without an offset and an end with one
    admin = await harness.admin()
    body = {
        "key": "dates",
        "name": "d",
        "variants": VARIANTS,
        "planned_start": "2027-01-05T10:00:00",
        "planned_end": "2027-01-06T00:00:00+02:00",
    }
    # When the experiment is created
    created = await harness.client.post(EXPERIMENTS, json=body, headers=admin)
    # Then both are UTC instants, written with Z
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert (data["planned_start"], data["planned_end"]) == ("2027-01-05T10:00:00Z", "2027-01-05T22:00:00Z")
    # And an end before the start in UTC is refused, whatever the forms
    bad = await harness.client.post(
        EXPERIMENTS,
        json={**body, "key": "dates-2", "planned_end": "2027-01-05T11:00:00+02:00"},
        headers=admin,
    )
    assert bad.status_code == 422, bad.text
    # And rollout steps of mixed forms are ordered in UTC (12:00+01:00 is 11:00Z, after 10:00Z)
    await harness.client.post(FLAGS, json={"key": "sched", "name": "s"}, headers=admin)
    steps = [
        {"at": "2027-01-05T10:00:00", "percentage": 10},
        {"at": "2027-01-05T12:00:00+01:00", "percentage": 50},
    ]
    schedule = await harness.client.post(
        f"{FLAGS}/sched/rollout-schedules",
        json={"environment": "production", "variation": "on", "steps": steps},
        headers=admin,
    )
    assert schedule.status_code == 201, schedule.text
    assert [s["at"] for s in schedule.json()["data"]["steps"]] == [
        "2027-01-05T10:00:00Z",
        "2027-01-05T11:00:00Z",
    ]
    backwards = [steps[0], {"at": "2027-01-05T10:30:00+01:00", "percentage": 50}]  # 09:30Z
    refused = await harness.client.post(
        f"{FLAGS}/sched/rollout-schedules",
        json={"environment": "production", "variation": "on", "steps": backwards},
        headers=admin,
    )
    assert refused.status_code == 422, refused.text


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-23:00", "0001-01-01T00:30:00+01:00"])
async def test_instants__beyond_utc_range__422_not_overflow(harness: Harness, moment: str) -> None:
    admin = await harness.admin()
    key = await harness.client.post(
        "/api/v1/api-keys",
        json={"name": "k", "environment": "production", "scopes": ["evaluate"], "expires_at": moment},
        headers=admin,
    )
    assert key.status_code == 422, key.text
    experiment = await harness.client.post(
        EXPERIMENTS,
        json={"key": "far", "name": "f", "variants": VARIANTS, "planned_start": moment},
        headers=admin,
    )
    assert experiment.status_code == 422, experiment.text
    audit = await harness.client.get("/api/v1/audit-logs", params={"since": moment}, headers=admin)
    assert audit.status_code == 422, audit.text
    events = await harness.client.get("/api/v1/events", params={"since": moment}, headers=admin)
    assert events.status_code == 422, events.text


async def test_flag_environment__enabled_must_be_a_boolean(harness: Harness) -> None:
    admin = await harness.admin()
    await harness.client.post(FLAGS, json={"key": "strict", "name": "s"}, headers=admin)
    for value in ("yes", 1, "true"):
        response = await harness.client.put(
            f"{FLAGS}/strict/environments/production", json={"enabled": value, "version": 1}, headers=admin
        )
        assert response.status_code == 422, (value, response.text)


async def test_evaluate__boolean_and_float_users__bucketed_as_the_sdk_buckets_them(harness: Harness) -> None:
    from experimently_sdk import Evaluator, Ruleset

    admin = await harness.admin()
    await harness.client.post(FLAGS, json={"key": "split", "name": "s"}, headers=admin)
    rollout = {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
    config = {"enabled": True, "version": 1, "fallthrough": {"rollout": rollout}}
    put = await harness.client.put(f"{FLAGS}/split/environments/production", json=config, headers=admin)
    assert put.status_code == 200, put.text
    key = await harness.api_key(["evaluate"])
    payload = (await harness.client.get("/api/v1/sdk/flags", headers=key)).json()["data"]
    engine = Evaluator(Ruleset.from_payload(payload))
    buckets = set()
    for user in (True, False, 1, 7.0, 2.5, "true", "1"):
        response = await harness.client.post(f"{FLAGS}/split/evaluate", json={"user_id": user}, headers=key)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["value"], data["bucket"]) == (
            engine.evaluate("split", {"user_id": user}).value,
            engine.evaluate("split", {"user_id": user}).bucket,
        ), user
        buckets.add((str(user), data["bucket"]))
    assert dict(buckets)["True"] == dict(buckets)["true"]  # true is bucketed as "true", not as 1


async def test_tags__one_of_10000_characters__422_naming_it(harness: Harness) -> None:
    admin = await harness.admin()
    for path, body in (
        ("/api/v1/feature-flags", {"key": "f", "name": "f", "tags": ["ok", "t" * 10_000]}),
        ("/api/v1/experiments", {"key": "e", "name": "e", "tags": ["t" * 101], "variants": VARIANTS}),
    ):
        refused = await harness.client.post(path, json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["errors"][0]["path"].startswith("tags")
    made = await harness.client.post(
        "/api/v1/feature-flags", json={"key": "f", "name": "f", "tags": ["t" * 100]}, headers=admin
    )
    assert made.status_code == 201


async def test_unit_id__an_object__one_error_not_one_per_type(harness: Harness) -> None:
    key = await harness.api_key(["evaluate"])
    for path, body in (
        ("/api/v1/feature-flags/f/evaluate", {"user_id": {"id": 1}}),
        ("/api/v1/experiments/e/assign", {"unit_id": ["a"]}),
    ):
        refused = await harness.client.post(path, json=body, headers=key)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["error"]["details"]["errors"]
        assert error["path"] in ("user_id", "unit_id") and "JSON scalar" in error["message"]
