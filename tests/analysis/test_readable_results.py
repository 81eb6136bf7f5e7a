"""Issue #14, the results a person can read: the metric as defined with its format, interval levels,
the correction and what it adjusted, Bayesian thresholds and posterior sd, plain-language summaries,
aggregation times in ``meta``, "aggregate now", SRM against the experiment's own weights, and
results refreshed by a privacy erasure."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import Harness

METRICS = (
    {
        "key": "purchase",
        "name": "Checkout conversion",
        "kind": "binomial",
        "event_name": "purchase",
    },
    {
        "key": "revenue",
        "name": "Revenue",
        "kind": "sum",
        "event_name": "purchase",
        "format": {"type": "currency", "currency": "EUR", "decimals": 2},
    },
    {"key": "errors", "name": "Errors", "kind": "count", "event_name": "error", "direction": "lower"},
)


async def _setup(
    h: Harness, weights: tuple[int, int] = (50, 50), start: bool = True, key: str = "checkout"
) -> dict[str, str]:
    admin = await h.admin()
    for metric in METRICS:
        made = await h.client.post("/api/v1/metrics", json=metric, headers=admin)
        assert made.status_code in (201, 409), made.text
    body = {
        "key": key,
        "name": "Checkout",
        "variants": [
            {"key": "control", "weight": weights[0], "is_control": True},
            {"key": "treatment", "weight": weights[1]},
        ],
        "primary_metric": "purchase",
        "secondary_metrics": ["revenue"],
        "guardrail_metrics": ["errors"],
    }
    assert (await h.client.post("/api/v1/experiments", json=body, headers=admin)).status_code == 201
    if start:
        started = await h.client.post(f"/api/v1/experiments/{key}/start", headers=admin)
        assert started.status_code == 200, started.text
    return admin


async def _traffic(
    h: Harness, n: int, rates: dict[str, float], seed: int = 3, key: str = "checkout"
) -> dict[str, str]:
    """Assign ``n`` units and send purchases at ``rates`` per variant; returns unit -> variant."""
    evaluate, track = await h.api_key(["evaluate"]), await h.api_key(["track"])
    units = [f"user-{i}" for i in range(n)]
    variant: dict[str, str] = {}
    for start in range(0, n, 1000):
        bulk = await h.client.post(
            f"/api/v1/experiments/{key}/assign/bulk",
            json={"units": [{"unit_id": u} for u in units[start : start + 1000]]},
            headers=evaluate,
        )
        assert bulk.status_code == 200, bulk.text
        variant |= {r["unit_id"]: r["variant"] for r in bulk.json()["data"]}
    rng = np.random.default_rng(seed)
    events = [
        {"name": "purchase", "user_id": u, "value": float(round(rng.uniform(5, 50), 2))}
        for u in units
        if variant[u] and rng.random() < rates[variant[u]]
    ]
    events += [{"name": "error", "user_id": u} for u in units if variant[u] and rng.random() < 0.2]
    for start in range(0, len(events), 1000):
        sent = await h.client.post(
            "/api/v1/events/batch", json={"events": events[start : start + 1000]}, headers=track
        )
        assert sent.status_code == 202, sent.text
    await h.runtime.pipeline.flush()
    return variant


async def _results(h: Harness, **params: Any) -> dict[str, Any]:
    response = await h.client.get(
        "/api/v1/experiments/checkout/results", params=params, headers=await h.admin()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_results__metric_as_defined_format_levels_correction_summary(harness: Harness) -> None:
    await _setup(harness)
    await _traffic(harness, 600, {"control": 0.1, "treatment": 0.3})
    assert await harness.runtime.jobs.run("metrics.aggregate")
    body = await _results(harness)
    data = body["data"]
    metrics = {m["metric_key"]: m for m in data["metrics"]}
    # the kind as defined: a sum metric says sum (the engine treats it as a mean per unit)
    assert metrics["revenue"]["metric"] == {
        "key": "revenue",
        "name": "Revenue",
        "kind": "sum",
        "direction": "higher",
        "format": {"type": "currency", "currency": "EUR", "duration_unit": None, "decimals": 2},
    }
    assert metrics["revenue"]["kind"] == "sum"
    assert metrics["purchase"]["metric"]["format"]["type"] == "percent"  # the default of binomial
    assert metrics["errors"]["metric"]["direction"] == "lower"
    assert metrics["errors"]["metric"]["format"]["type"] == "count"
    assert data["interval_level"] == 0.95 and data["thresholds"] is None
    assert data["correction_detail"] == {
        "method": "holm",
        "adjusts": ["p_value"],
        "family_size": 2,  # purchase and revenue; the guardrail is judged on its own
        "intervals_adjusted": False,
        "explanation": data["correction_detail"]["explanation"],
    }
    assert "Holm" in data["correction_detail"]["explanation"]
    purchase = metrics["purchase"]["comparisons"][0]
    assert purchase["interval_level"] == 0.95 and purchase["posterior_sd"] is None
    assert purchase["absolute_lift_meaning"] == "difference of the sample means, treatment minus control"
    # raw numbers stay exact: the relative lift is the ratio of the means minus 1, unrounded
    expected = purchase["treatment"]["mean"] / purchase["control"]["mean"] - 1
    assert purchase["relative_lift"] == pytest.approx(expected, rel=1e-12)
    summary = metrics["purchase"]["summary"]
    assert summary.startswith("Treatment raised Checkout conversion from ")
    control_pct = f"{purchase['control']['mean'] * 100:.1f}%"
    assert control_pct in summary and "95% interval" in summary
    assert f"{purchase['relative_lift'] * 100:+.1f}%" in summary
    assert "statistically significant" in summary and "Holm-adjusted" in summary
    assert "EUR" in metrics["revenue"]["summary"]
    assert "guardrail, not adjusted" in metrics["errors"]["summary"]
    # meta: when the data was aggregated and when the next run is due
    meta = body["meta"]
    assert meta["aggregated_at"] == data["aggregated_at"] is not None
    assert meta["aggregation_interval_seconds"] == 60
    aggregated = datetime.fromisoformat(meta["aggregated_at"])
    upcoming = datetime.fromisoformat(meta["next_aggregation_at"])
    assert timedelta(seconds=50) <= upcoming - aggregated <= timedelta(seconds=70)


async def test_results__bayesian_thresholds_echoed_posterior_sd_and_validated(harness: Harness) -> None:
    await _setup(harness)
    await _traffic(harness, 600, {"control": 0.2, "treatment": 0.26})
    assert await harness.runtime.jobs.run("metrics.aggregate")
    data = (await _results(harness, engine="bayesian", win_threshold=0.8, lose_threshold=0.1))["data"]
    assert data["thresholds"] == {"win": 0.8, "lose": 0.1}
    assert data["correction_detail"]["adjusts"] == [] and data["correction_detail"]["family_size"] == 0
    assert data["correction"] == data["correction_detail"]["method"] == "none"  # asked holm, applied none
    purchase = next(m for m in data["metrics"] if m["metric_key"] == "purchase")
    c = purchase["comparisons"][0]
    assert c["absolute_lift_meaning"] == "posterior mean of the difference, treatment minus control"
    # flat prior: the posterior sd is the standard error of the difference (unpooled binomial)
    pc, pt = c["control"]["mean"], c["treatment"]["mean"]
    nc, nt = c["control"]["units"], c["treatment"]["units"]
    se = math.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
    assert c["posterior_sd"] == pytest.approx(se, rel=1e-9)
    lo, hi = c["absolute_interval"]["lower"], c["absolute_interval"]["upper"]
    assert (hi - lo) / 2 == pytest.approx(1.959963984540054 * se, rel=1e-9)
    expected = "winner" if c["chance_to_win"] >= 0.8 else "loser" if c["chance_to_win"] <= 0.1 else None
    assert c["verdict"] == (expected or "inconclusive")
    assert "chance that it is better" in purchase["summary"] and "winner at 80.0%" in purchase["summary"]
    # the thresholds are part of the cache key: other thresholds, other verdicts
    strict = await _results(harness, engine="bayesian", win_threshold=0.999999, lose_threshold=1e-6)
    strict_c = next(m for m in strict["data"]["metrics"] if m["metric_key"] == "purchase")["comparisons"][0]
    assert strict["data"]["thresholds"] == {"win": 0.999999, "lose": 1e-6}
    assert strict_c["chance_to_win"] == c["chance_to_win"]
    for bad in (
        {"win_threshold": 0.05, "lose_threshold": 0.5},
        {"win_threshold": 1.0},
        {"lose_threshold": 0},
    ):
        refused = await harness.client.get(
            "/api/v1/experiments/checkout/results",
            params={"engine": "bayesian", **bad},
            headers=await harness.admin(),
        )
        assert refused.status_code == 422, refused.text
        assert "0 < lose_threshold < win_threshold < 1" in refused.json()["error"]["message"]


async def test_results__bayesian_winner_whose_interval_contains_zero_says_why(harness: Harness) -> None:
    await _setup(harness)
    await _traffic(harness, 600, {"control": 0.2, "treatment": 0.26})
    assert await harness.runtime.jobs.run("metrics.aggregate")
    data = (await _results(harness, engine="bayesian"))["data"]
    c = next(m for m in data["metrics"] if m["metric_key"] == "purchase")["comparisons"][0]
    chance = c["chance_to_win"]
    # pick a win threshold just below the chance: a winner; its 95% interval contains 0 unless > 97.5%
    win = min(chance - 1e-6, 0.97)
    assert 0.05 < win < chance, f"seed gives chance {chance}"
    again = (await _results(harness, engine="bayesian", win_threshold=win))["data"]
    c = next(m for m in again["metrics"] if m["metric_key"] == "purchase")["comparisons"][0]
    assert c["verdict"] == "winner"
    if c["absolute_interval"]["lower"] <= 0:
        assert c["verdict_note"] is not None and "contains 0" in c["verdict_note"]
    else:
        assert c["verdict_note"] is None


async def test_results__deliberate_90_10_split_not_flagged(harness: Harness) -> None:
    await _setup(harness, weights=(90, 10))
    variant = await _traffic(harness, 2000, {"control": 0.1, "treatment": 0.1})
    assert await harness.runtime.jobs.run("metrics.aggregate")
    data = (await _results(harness))["data"]
    assert data["units"]["treatment"] == sum(1 for v in variant.values() if v == "treatment")
    assert data["units"]["treatment"] < 0.2 * 2000  # a real 90/10 split
    assert data["srm"]["weights"] == {"control": 90.0, "treatment": 10.0}
    assert data["srm"]["weights_source"] == "experiment"
    assert data["srm"]["flagged"] is False and data["srm"]["p_value"] > 0.001
    assert data["srm"]["expected"]["treatment"] == pytest.approx(0.1 * sum(data["units"].values()))
    assert "SRM" not in {w["code"] for w in data["warnings"]}


async def test_results__before_the_first_run__no_data_says_when_the_next_run_is(harness: Harness) -> None:
    await _setup(harness)
    body = await _results(harness)
    warning = next(w for w in body["data"]["warnings"] if w["code"] == "NO_DATA")
    assert (
        "every 60 s" in warning["message"] and "/api/v1/experiments/checkout/aggregate" in warning["message"]
    )
    assert body["meta"]["aggregated_at"] is None
    # once the job has run (on any instance), the next run is named
    assert await harness.runtime.jobs.run("metrics.aggregate")
    body = await _results(harness)
    warning = next(w for w in body["data"]["warnings"] if w["code"] == "NO_DATA")
    assert warning["next_aggregation_at"] == body["meta"]["next_aggregation_at"] is not None
    assert f"due at {body['meta']['next_aggregation_at']}" in warning["message"]


async def test_results__draft_experiment__no_data_says_it_is_not_aggregated(harness: Harness) -> None:
    await _setup(harness, start=False)
    warning = next(w for w in (await _results(harness))["data"]["warnings"] if w["code"] == "NO_DATA")
    assert "the experiment is draft" in warning["message"]


async def test_aggregate_now__fresh_numbers_audited_and_permissions(harness: Harness) -> None:
    admin = await _setup(harness)
    before = await _results(harness)
    assert before["data"]["units"] == {"control": 0, "treatment": 0}
    variant = await _traffic(harness, 300, {"control": 0.2, "treatment": 0.3})
    viewer, _ = await harness.user("viewer")
    denied = await harness.client.post("/api/v1/experiments/checkout/aggregate", headers=viewer)
    assert denied.status_code == 403
    response = await harness.client.post("/api/v1/experiments/checkout/aggregate", headers=admin)
    assert response.status_code == 200, response.text
    done = response.json()["data"]
    assert done["experiment_key"] == "checkout" and done["duration_ms"] >= 0
    after = await _results(harness)
    assert after["data"]["aggregated_at"] == done["aggregated_at"] == after["meta"]["aggregated_at"]
    assert after["data"]["units"] == {
        v: sum(1 for x in variant.values() if x == v) for v in ("control", "treatment")
    }
    records = await harness.audit(action="experiment.aggregated")
    assert len(records) == 1 and records[0]["resource_type"] == "experiment"
    # an experimenter aggregates their own; unknown 404; a draft 409 with the reason
    assert (await harness.client.post("/api/v1/experiments/nope/aggregate", headers=admin)).status_code == 404
    await _setup(harness, start=False, key="draft-one")
    conflict = await harness.client.post("/api/v1/experiments/draft-one/aggregate", headers=admin)
    assert conflict.status_code == 409 and "draft" in conflict.json()["error"]["message"]


async def test_erasure__results_served_without_the_erased_unit_at_once(harness: Harness) -> None:
    admin = await _setup(harness)
    variant = await _traffic(harness, 200, {"control": 0.5, "treatment": 0.5})
    assert await harness.runtime.jobs.run("metrics.aggregate")
    before = (await _results(harness))["data"]  # cached now
    victim = next(u for u, v in variant.items() if v == "treatment")
    erased = await harness.client.delete(f"/api/v1/privacy/users/{victim}", headers=admin)
    assert erased.status_code == 200 and erased.json()["data"]["experiment_statistics"] == 1
    after = (await _results(harness))["data"]
    assert after["aggregated_at"] == before["aggregated_at"]  # no aggregation run in between
    assert after["units"]["treatment"] == before["units"]["treatment"] - 1
    assert after["units"]["control"] == before["units"]["control"]


def test_chances__never_rounded_to_certainty() -> None:
    """The summary said "chance ... is 100.0%" where the table says "> 99.9%"."""
    from experimently.analysis.presentation import _chance

    assert [_chance(x) for x in (0.99996, 0.9991, 0.999, 0.5, 0.001, 0.0009, 0.0)] == [
        "> 99.9%",
        "> 99.9%",
        "99.9%",
        "50.0%",
        "0.1%",
        "< 0.1%",
        "< 0.1%",
    ]
