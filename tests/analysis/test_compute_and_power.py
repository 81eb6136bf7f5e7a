"""Issue #14 on /analysis/compute and /analysis/power: the correction and thresholds said in the answer,
no SRM check against weights nobody sent, the CUPED relative interval as the conventions define it
(checked against an independent numpy/scipy computation), and power refusals that say what to send."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from tests.conftest import Harness


def _arm(key: str, y: np.ndarray, x: np.ndarray | None = None) -> dict[str, Any]:
    arm: dict[str, Any] = {
        "key": key,
        "n": int(y.size),
        "sum": float(y.sum()),
        "sum_squares": float((y**2).sum()),
    }
    if x is not None:
        arm |= {
            "pre_sum": float(x.sum()),
            "pre_sum_squares": float((x**2).sum()),
            "cross_sum": float((x * y).sum()),
        }
    return arm


def _binomial(key: str, n: int, conversions: int) -> dict[str, Any]:
    return {"key": key, "n": n, "sum": conversions, "sum_squares": conversions}


async def _compute(h: Harness, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await h.client.post("/api/v1/analysis/compute", json=body, headers=await h.admin())
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def _two_metrics(**extra: Any) -> dict[str, Any]:
    return {
        "control": "control",
        "metrics": [
            {
                "key": "a",
                "kind": "binomial",
                "variants": [_binomial("control", 9000, 900), _binomial("treatment", 1000, 130)],
            },
            {
                "key": "b",
                "kind": "binomial",
                "variants": [_binomial("control", 9000, 450), _binomial("treatment", 1000, 52)],
            },
        ],
        **extra,
    }


async def test_compute__says_holm_by_default_and_what_it_adjusted(harness: Harness) -> None:
    data = (await _compute(harness, _two_metrics()))["data"]
    detail = data["correction_detail"]
    assert detail["method"] == "holm" and detail["adjusts"] == ["p_value"] and detail["family_size"] == 2
    assert detail["intervals_adjusted"] is False and "Holm" in detail["explanation"]
    raw = sorted(c["p_value"] for m in data["metrics"] for c in m["comparisons"])
    adjusted = sorted(c["p_value_adjusted"] for m in data["metrics"] for c in m["comparisons"])
    assert adjusted[0] == pytest.approx(min(1.0, 2 * raw[0]), rel=1e-12)  # Holm: the smallest x 2
    assert data["interval_level"] == 0.95 and data["thresholds"] is None
    none = (await _compute(harness, _two_metrics(correction="none")))["data"]["correction_detail"]
    assert none["method"] == "none" and none["adjusts"] == []
    bh = (await _compute(harness, _two_metrics(correction="bh")))["data"]["correction_detail"]
    assert bh["method"] == "benjamini-hochberg"


async def test_compute__without_weights__no_srm_check_and_a_warning(harness: Harness) -> None:
    # 9,000 against 1,000 units: flagged against equal weights, which nobody configured
    data = (await _compute(harness, _two_metrics()))["data"]
    assert data["srm"]["flagged"] is False and data["srm"]["p_value"] is None
    assert data["srm"]["weights_source"] == "none" and data["srm"]["messages"] == ["SRM_NOT_APPLICABLE"]
    assert [w["code"] for w in data["warnings"]] == ["SRM_WEIGHTS_MISSING"]
    assert "weights" in data["warnings"][0]["message"]
    # with the configured 90/10 weights: checked, not flagged, the weights echoed
    weighted = (await _compute(harness, _two_metrics(weights={"control": 90, "treatment": 10})))["data"]
    assert weighted["srm"]["weights_source"] == "request" and weighted["warnings"] == []
    assert weighted["srm"]["flagged"] is False and weighted["srm"]["p_value"] == pytest.approx(1.0)
    # and a real mismatch against them is flagged
    skewed = (await _compute(harness, _two_metrics(weights={"control": 50, "treatment": 50})))["data"]
    assert skewed["srm"]["flagged"] is True
    # weights no experiment can have (all 0, or negative) are bad input, not a sample ratio mismatch
    for weights in ({"control": 0, "treatment": 0}, {"control": 110, "treatment": -10}):
        refused = await _compute(harness, _two_metrics(weights=weights), status=422)
        assert "at least one must be above 0" in str(refused["error"]), refused


async def test_compute__bayesian_thresholds_used_echoed_and_validated(harness: Harness) -> None:
    body = {
        "control": "c",
        "engine": "bayesian",
        "metrics": [{"kind": "binomial", "variants": [_binomial("c", 1000, 100), _binomial("t", 1000, 112)]}],
    }
    loose = (await _compute(harness, body | {"win_threshold": 0.8, "lose_threshold": 0.1}))["data"]
    c = loose["metrics"][0]["comparisons"][0]
    assert loose["thresholds"] == {"win": 0.8, "lose": 0.1}
    assert loose["correction"] == loose["correction_detail"]["method"] == "none"  # nothing to adjust
    assert 0.8 <= c["chance_to_win"] < 0.975 and c["verdict"] == "winner"
    assert c["absolute_interval"]["lower"] < 0 and "contains 0" in c["verdict_note"]
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.112 * 0.888 / 1000)
    assert c["posterior_sd"] == pytest.approx(se, rel=1e-12)
    assert c["chance_to_win"] == pytest.approx(stats.norm.cdf(0.012 / se), rel=1e-12)
    default = (await _compute(harness, body))["data"]
    assert default["thresholds"] == {"win": 0.95, "lose": 0.05}
    assert default["metrics"][0]["comparisons"][0]["verdict"] == "inconclusive"
    refused = await harness.client.post(
        "/api/v1/analysis/compute",
        json=body | {"win_threshold": 0.3, "lose_threshold": 0.6},
        headers=await harness.admin(),
    )
    assert refused.status_code == 422 and "lose_threshold < win_threshold" in refused.text


def _cuped_reference(
    yc: np.ndarray, xc: np.ndarray, yt: np.ndarray, xt: np.ndarray, alpha: float = 0.05
) -> dict[str, float]:
    """The conventions, computed independently: theta pooled over both arms, Welch t on the adjusted
    variances, relative = adjusted difference / raw control mean, its delta-method variance with the
    raw treatment mean and the adjusted variances."""
    x, y = np.concatenate([xc, xt]), np.concatenate([yc, yt])
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted = (yt.mean() - yc.mean()) - theta * (xt.mean() - xc.mean())
    se2_c = np.var(yc - theta * xc, ddof=1) / yc.size
    se2_t = np.var(yt - theta * xt, ddof=1) / yt.size
    df = (se2_c + se2_t) ** 2 / (se2_c**2 / (yc.size - 1) + se2_t**2 / (yt.size - 1))
    q = stats.t.ppf(1 - alpha / 2, df)
    mc, mt = yc.mean(), yt.mean()
    relative = adjusted / mc
    var_rel = se2_t / mc**2 + mt**2 * se2_c / mc**4
    half = q * math.sqrt(var_rel)
    # what the engine did before: the treatment mean taken as control mean + adjusted difference
    mt_old = mc + adjusted
    half_old = q * math.sqrt(se2_t / mc**2 + mt_old**2 * se2_c / mc**4)
    return {
        "theta": theta,
        "adjusted": adjusted,
        "relative": relative,
        "lower": relative - half,
        "upper": relative + half,
        "old_lower": relative - half_old,
        "p_value": 2 * stats.t.sf(abs(adjusted) / math.sqrt(se2_c + se2_t), df),
    }


@pytest.mark.parametrize("imbalance", [0.0, 4.0])
async def test_compute__cuped_relative_interval_matches_independent_computation(
    harness: Harness, imbalance: float
) -> None:
    rng = np.random.default_rng(21)
    n_c, n_t = 3000, 2800
    # pre-period imbalance: the treatment arm's users were heavier before the experiment started
    xc = rng.gamma(4.0, 5.0, n_c)
    xt = rng.gamma(4.0, 5.0, n_t) + imbalance
    yc = 10 + 0.8 * xc + rng.normal(0, 6, n_c)
    yt = 10.6 + 0.8 * xt + rng.normal(0, 6, n_t)
    body = {
        "control": "control",
        "cuped": True,
        "metrics": [{"kind": "mean", "variants": [_arm("control", yc, xc), _arm("treatment", yt, xt)]}],
    }
    c = (await _compute(harness, body))["data"]["metrics"][0]["comparisons"][0]
    ref = _cuped_reference(yc, xc, yt, xt)
    assert c["cuped_theta"] == pytest.approx(ref["theta"], rel=1e-9)
    assert c["absolute_lift"] == pytest.approx(ref["adjusted"], rel=1e-9)
    assert c["relative_lift"] == pytest.approx(ref["relative"], rel=1e-9)
    assert c["relative_interval"]["lower"] == pytest.approx(ref["lower"], rel=1e-9)
    assert c["relative_interval"]["upper"] == pytest.approx(ref["upper"], rel=1e-9)
    assert c["p_value"] == pytest.approx(ref["p_value"], rel=1e-6)
    # the raw treatment mean is reported unadjusted beside the adjusted lift
    assert c["treatment"]["mean"] == pytest.approx(yt.mean(), rel=1e-12)
    if imbalance:  # the two formulas differ visibly under imbalance: this test tells them apart
        assert abs(ref["old_lower"] - ref["lower"]) > 1e-4
        assert c["relative_interval"]["lower"] != pytest.approx(ref["old_lower"], rel=1e-6)


async def _power(h: Harness, body: dict[str, Any]) -> Any:
    return await h.client.post("/api/v1/analysis/power", json=body, headers=await h.admin())


@pytest.mark.parametrize(
    ("body", "path", "text"),
    [
        (
            {"kind": "binomial", "baseline_mean": 30, "relative_mde": 0.05},
            "baseline_mean",
            "baseline_mean must be a rate in (0, 1) for binomial metrics: "
            "30 looks like a percentage, send 0.30",
        ),
        (
            {"kind": "binomial", "baseline_mean": 1.0, "relative_mde": 0.05},
            "baseline_mean",
            "1 looks like a percentage, send 0.01",
        ),
        ({"kind": "binomial", "baseline_mean": -0.2, "relative_mde": 0.05}, "baseline_mean", "(got -0.2)"),
        ({"kind": "binomial", "baseline_mean": 0, "relative_mde": 0.05}, "baseline_mean", "rate in (0, 1)"),
        (
            {"kind": "mean", "baseline_mean": 12.5, "relative_mde": 0.05},
            "baseline_variance",
            "baseline_variance is required for mean metrics",
        ),
        (
            {"kind": "mean", "baseline_mean": 12.5, "baseline_variance": 0, "relative_mde": 0.05},
            "baseline_variance",
            "baseline_variance must be above 0",
        ),
        (
            {"kind": "count", "baseline_mean": 0, "baseline_variance": 4, "relative_mde": 0.05},
            "baseline_mean",
            "baseline_mean must not be 0",
        ),
        ({"kind": "binomial", "baseline_mean": 0.3, "relative_mde": 0}, "relative_mde", "must not be 0"),
        ({"kind": "binomial", "baseline_mean": 0.3, "relative_mde": -1.5}, "relative_mde", "above -1"),
        (
            {"kind": "binomial", "baseline_mean": 0.3, "relative_mde": 5},
            "relative_mde",
            "5 looks like a percentage, send 0.05",
        ),
        (
            {"kind": "binomial", "baseline_mean": 0.3, "relative_mde": -0.05, "alternative": "greater"},
            "relative_mde",
            "alternative is 'greater'",
        ),
        (
            {
                "kind": "mean",
                "baseline_mean": 3,
                "baseline_variance": 2,
                "relative_mde": 0.1,
                "alternative": "less",
            },
            "relative_mde",
            "alternative is 'less'",
        ),
        ({"kind": "binomial", "baseline_mean": 0.3}, "relative_mde", "give relative_mde"),
        (
            {"kind": "binomial", "baseline_mean": 0.3, "units_per_arm": 1},
            "body",
            "units_per_arm is too small",
        ),
    ],
)
async def test_power__each_refusal_is_a_422_that_says_what_to_send(
    harness: Harness, body: dict[str, Any], path: str, text: str
) -> None:
    response = await _power(harness, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert text in error["message"]
    assert error["details"]["errors"][0]["path"] == path


async def test_power__valid_inputs_still_answer(harness: Harness) -> None:
    ok = await _power(harness, {"kind": "binomial", "baseline_mean": 0.3, "relative_mde": -0.05})
    assert ok.status_code == 200 and ok.json()["data"]["sample_size"]["units_per_arm"] > 0
    mean = await _power(
        harness, {"kind": "mean", "baseline_mean": 12.5, "baseline_variance": 30, "units_per_arm": 5000}
    )
    assert mean.status_code == 200 and mean.json()["data"]["mde"]["relative_mde"] > 0
    # finite input whose answer is beyond doubles: a 200 with the code and an explanation, not a refusal
    huge = await _power(
        harness, {"kind": "mean", "baseline_mean": 1e-90, "baseline_variance": 1.0, "relative_mde": 1e-300}
    )
    assert huge.status_code == 200, huge.text
    size = huge.json()["data"]["sample_size"]
    assert size["messages"] == ["NUMERIC_RANGE"] and "beyond what can be computed" in size["explanation"]


async def test_sum_kind__as_the_results_name_it__planned_and_analysed_as_a_mean(harness: Harness) -> None:
    """The results say ``kind: sum`` for a sum metric; an analyst copying it into the planning and
    analysis endpoints got a 422 ("Input should be 'binomial', 'count', 'mean' or 'ratio'")."""
    plan = {"baseline_mean": 12.5, "baseline_variance": 30, "relative_mde": 0.05}
    as_sum = await _power(harness, {"kind": "sum", **plan})
    as_mean = await _power(harness, {"kind": "mean", **plan})
    assert as_sum.status_code == 200, as_sum.text
    assert as_sum.json()["data"]["kind"] == "sum"
    assert as_sum.json()["data"]["sample_size"] == as_mean.json()["data"]["sample_size"]
    rng = np.random.default_rng(5)
    yc, yt = rng.gamma(2.0, 5.0, 800), rng.gamma(2.0, 5.5, 800)
    arms = [_arm("control", yc), _arm("treatment", yt)]
    metrics = [[{"kind": kind, "variants": arms}] for kind in ("sum", "mean")]
    bodies = [{"control": "control", "metrics": m} for m in metrics]
    answers = [(await _compute(harness, body))["data"] for body in bodies]
    assert answers[0]["metrics"][0]["comparisons"] == answers[1]["metrics"][0]["comparisons"]
    refused = await _power(harness, {"kind": "total", **plan})
    assert refused.status_code == 422
    assert "'sum'" in refused.json()["error"]["details"]["errors"][0]["message"]
