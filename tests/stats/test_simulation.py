"""Seeded A/A and CUPED simulations: error rates the engines promise, checked by brute force.

Rates are compared with binomial 99.9% bounds around the nominal level so the seeded outcome is not a
coin flip; the sequential/peeking tests compare with limits that fail loudly on a wrong formula.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experimently.stats import Engine, VariantStats, analyze_metric

from .helpers import binomial_stats

EXPERIMENTS = 2000
LOOKS = 20
DAILY_UNITS = 250  # per arm per day: 5,000 per arm (10,000 total) at the last look
ALPHA = 0.05
Z_999 = 3.29


def _upper_bound(rate: float, trials: int) -> float:
    return rate + Z_999 * math.sqrt(rate * (1 - rate) / trials)


def _lower_bound(rate: float, trials: int) -> float:
    return rate - Z_999 * math.sqrt(rate * (1 - rate) / trials)


@pytest.fixture(scope="module")
def aa_binomial_paths() -> tuple[np.ndarray, np.ndarray]:
    """Cumulative units and conversions per (experiment, look, arm) of 2,000 A/A tests at 10%."""
    rng = np.random.default_rng(20240601)
    conversions = rng.binomial(DAILY_UNITS, 0.10, size=(EXPERIMENTS, LOOKS, 2)).cumsum(axis=1)
    units = np.arange(1, LOOKS + 1) * DAILY_UNITS
    return units, conversions


def _p_values(units: np.ndarray, conversions: np.ndarray, engine: Engine) -> np.ndarray:
    p = np.ones((EXPERIMENTS, LOOKS))
    for e in range(EXPERIMENTS):
        for look in range(LOOKS):
            n = int(units[look])
            variants = [
                binomial_stats("c", n, int(conversions[e, look, 0])),
                binomial_stats("t", n, int(conversions[e, look, 1])),
            ]
            result = analyze_metric("binomial", variants, control_key="c", engine=engine, alpha=ALPHA)
            value = result.comparisons[0].p_value
            p[e, look] = 1.0 if value is None else value
    return p


@pytest.fixture(scope="module")
def fixed_p(aa_binomial_paths: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return _p_values(*aa_binomial_paths, Engine.FREQUENTIST)


@pytest.fixture(scope="module")
def sequential_p(aa_binomial_paths: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return _p_values(*aa_binomial_paths, Engine.SEQUENTIAL)


def test_aa_fixed_horizon__false_positive_rate_near_alpha(fixed_p: np.ndarray) -> None:
    rate = float((fixed_p[:, -1] < ALPHA).mean())
    assert _lower_bound(ALPHA, EXPERIMENTS) <= rate <= _upper_bound(ALPHA, EXPERIMENTS)


def test_aa_fixed_horizon_peeked_daily__inflates_false_positives(fixed_p: np.ndarray) -> None:
    rate = float((fixed_p < ALPHA).any(axis=1).mean())
    assert rate > 2 * ALPHA


def test_aa_sequential_peeked_daily__stays_within_alpha(sequential_p: np.ndarray) -> None:
    rate = float((sequential_p < ALPHA).any(axis=1).mean())
    assert rate <= _upper_bound(ALPHA, EXPERIMENTS)


def test_aa_sequential__p_value_reacts_to_data(sequential_p: np.ndarray) -> None:
    # guards the test above against an engine that never rejects
    assert float(sequential_p.min()) < 0.2


def test_aa_welch_skewed_means__false_positive_rate_near_alpha() -> None:
    rng = np.random.default_rng(7)
    values = rng.exponential(3.0, size=(EXPERIMENTS, 2, 500))
    sums, squares = values.sum(axis=2), (values * values).sum(axis=2)
    rejections = 0
    for e in range(EXPERIMENTS):
        variants = [
            VariantStats("c", 500, float(sums[e, 0]), float(squares[e, 0])),
            VariantStats("t", 500, float(sums[e, 1]), float(squares[e, 1])),
        ]
        p = analyze_metric("mean", variants, control_key="c").comparisons[0].p_value
        rejections += p is not None and p < ALPHA
    rate = rejections / EXPERIMENTS
    assert _lower_bound(ALPHA, EXPERIMENTS) <= rate <= _upper_bound(ALPHA, EXPERIMENTS)


def _cuped_widths(
    rho: float, seed: int, experiments: int = 400, n: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, size=(experiments, 2, n))
    y = rho * x + math.sqrt(1 - rho * rho) * rng.normal(0, 1, size=(experiments, 2, n)) + 5
    sx, sy = x.sum(axis=2), y.sum(axis=2)
    sxx, syy, sxy = (x * x).sum(axis=2), (y * y).sum(axis=2), (x * y).sum(axis=2)
    plain, adjusted = np.empty(experiments), np.empty(experiments)
    for e in range(experiments):
        variants = [
            VariantStats(
                k, n, float(sy[e, a]), float(syy[e, a]), float(sx[e, a]), float(sxx[e, a]), float(sxy[e, a])
            )
            for a, k in enumerate(("c", "t"))
        ]
        for cuped, out in ((False, plain), (True, adjusted)):
            interval = (
                analyze_metric("mean", variants, control_key="c", cuped=cuped)
                .comparisons[0]
                .absolute_interval
            )
            assert interval is not None and interval.lower is not None and interval.upper is not None
            out[e] = interval.upper - interval.lower
    return plain, adjusted


def test_cuped__narrows_interval_on_correlated_data() -> None:
    plain, adjusted = _cuped_widths(rho=0.7, seed=11)
    ratio = float((adjusted / plain).mean())
    assert ratio == pytest.approx(math.sqrt(1 - 0.49), abs=0.03)


def test_cuped__does_not_widen_interval_on_uncorrelated_data() -> None:
    plain, adjusted = _cuped_widths(rho=0.0, seed=12)
    assert float((adjusted / plain).mean()) <= 1.005
