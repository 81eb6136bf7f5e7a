"""Bucketing properties: deterministic, uniform, independent across salts, monotone rollouts."""

from __future__ import annotations

import mmh3
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sdk_helpers import evaluator, flag

from experimently_sdk import bucket

UNITS = [f"user-{i}" for i in range(100_000)]


def test_bucket__pinned_values() -> None:
    # MurmurHash3 x86_32, seed 0, of the UTF-8 bytes of "seed:unit", unsigned, mod 10000
    assert bucket("a", "b") == 2722392131 % 10000 == 2131
    assert bucket("new-checkout", "user-1") == mmh3.hash(b"new-checkout:user-1", 0, signed=False) % 10000
    assert bucket("s", "\u00fcser") == mmh3.hash("s:\u00fcser".encode(), 0, signed=False) % 10000


@given(st.text(), st.text())
def test_bucket__deterministic_and_in_range(seed: str, unit: str) -> None:
    first = bucket(seed, unit)
    assert first == bucket(seed, unit)
    assert 0 <= first < 10000


def test_bucket__uniform_chi_square() -> None:
    counts = [0] * 100
    for unit in UNITS:
        counts[bucket("uniform-salt", unit) // 100] += 1
    _, p_value = stats.chisquare(counts)
    assert p_value > 0.001


def test_bucket__independent_across_salts() -> None:
    table = [[0] * 10 for _ in range(10)]
    for unit in UNITS:
        table[bucket("salt-one", unit) // 1000][bucket("salt-two", unit) // 1000] += 1
    result = stats.chi2_contingency(table)
    assert result.pvalue > 0.001


def test_bucket__traffic_and_variant_seeds_independent() -> None:
    table = [[0, 0], [0, 0]]
    for unit in UNITS:
        table[bucket("exp:traffic", unit) < 5000][bucket("exp:variant", unit) < 5000] += 1
    assert stats.chi2_contingency(table).pvalue > 0.001


def rollout_flag(percent: float) -> dict[str, object]:
    weights = [
        {"variation": "on", "weight": percent},
        {"variation": "off", "weight": round(100 - percent, 2)},
    ]
    return flag(salt="mono", fallthrough={"rollout": {"variations": weights}})


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10000), st.integers(0, 10000))
def test_rollout__monotone(p_bp: int, q_bp: int) -> None:
    low, high = sorted((p_bp / 100, q_bp / 100))
    small, large = evaluator([rollout_flag(low)]), evaluator([rollout_flag(high)])
    for unit in UNITS[:2000]:
        if small.evaluate("f", {"user_id": unit}).variation == "on":
            assert large.evaluate("f", {"user_id": unit}).variation == "on"


def test_rollout__share_matches_weight() -> None:
    ev = evaluator([rollout_flag(20)])
    on = sum(ev.evaluate("f", {"user_id": unit}).variation == "on" for unit in UNITS)
    assert stats.binomtest(on, len(UNITS), 0.2).pvalue > 0.001
