"""/analysis/compute and /analysis/power over HTTP, checked against independent scipy computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.conftest import Harness


def _arm(key: str, values: np.ndarray) -> dict[str, float | int | str]:
    return {
        "key": key,
        "n": int(values.size),
        "sum": float(values.sum()),
        "sum_squares": float((values**2).sum()),
    }


async def test_compute__welch_matches_scipy(harness: Harness) -> None:
    rng = np.random.default_rng(7)
    control, treatment = rng.normal(10, 2, 400), rng.normal(10.4, 2.5, 380)
    body = {
        "control": "control",
        "metrics": [
            {
                "key": "revenue",
                "kind": "mean",
                "variants": [_arm("control", control), _arm("treatment", treatment)],
            }
        ],
    }
    response = await harness.client.post("/api/v1/analysis/compute", json=body, headers=await harness.admin())
    assert response.status_code == 200, response.text
    comparison = response.json()["data"]["metrics"][0]["comparisons"][0]
    expected = stats.ttest_ind(treatment, control, equal_var=False)
    assert comparison["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert comparison["absolute_lift"] == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    assert response.json()["meta"]["intervals_adjusted"] is False


async def test_compute__degenerate_input__message_codes_not_500(harness: Harness) -> None:
    body = {
        "control": "c",
        "metrics": [
            {
                "kind": "binomial",
                "variants": [
                    {"key": "c", "n": 0, "sum": 0, "sum_squares": 0},
                    {"key": "t", "n": 0, "sum": 0, "sum_squares": 0},
                ],
            }
        ],
    }
    response = await harness.client.post("/api/v1/analysis/compute", json=body, headers=await harness.admin())
    assert response.status_code == 200
    messages = response.json()["data"]["metrics"][0]["comparisons"][0]["messages"]
    assert "NOT_ENOUGH_DATA" in messages


async def test_compute__nan_refused_422(harness: Harness) -> None:
    raw = (
        '{"control": "c", "metrics": [{"kind": "mean", "variants": [{"key": "c", "n": 3, "sum": NaN, '
        '"sum_squares": 1}]}]}'
    )
    response = await harness.client.post(
        "/api/v1/analysis/compute",
        content=raw,
        headers={**await harness.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


async def test_power__sample_size_matches_closed_form_and_days(harness: Harness) -> None:
    body = {"kind": "binomial", "baseline_mean": 0.1, "relative_mde": 0.1, "daily_units": 1000}
    response = await harness.client.post("/api/v1/analysis/power", json=body, headers=await harness.admin())
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    p1, p2 = 0.1, 0.11
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    expected = int(np.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2))
    assert data["sample_size"]["units_per_arm"] == expected
    assert data["days_to_sample"]["days"] == int(np.ceil(2 * expected / 1000))
    # three arms (two treatments and the control) share the same daily traffic: half as long again
    three = await harness.client.post(
        "/api/v1/analysis/power", json={**body, "arms": 3}, headers=await harness.admin()
    )
    assert three.status_code == 200, three.text
    sized = three.json()["data"]
    assert sized["sample_size"] == {"units_per_arm": expected, "total_units": 3 * expected, "messages": []}
    assert sized["days_to_sample"]["days"] == int(np.ceil(3 * expected / 1000))
    one = await harness.client.post(
        "/api/v1/analysis/power", json={**body, "arms": 1}, headers=await harness.admin()
    )
    assert one.status_code == 422 and one.json()["error"]["details"]["errors"][0]["path"] == "arms"


async def test_power__needs_an_input_and_auth(harness: Harness) -> None:
    body = {"kind": "mean", "baseline_mean": 1.0, "baseline_variance": 1.0}
    assert (await harness.client.post("/api/v1/analysis/power", json=body)).status_code == 401
    response = await harness.client.post("/api/v1/analysis/power", json=body, headers=await harness.admin())
    assert response.status_code == 422
