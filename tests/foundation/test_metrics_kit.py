"""``kit.metrics``: the bound increment and observation move the figures every exporter reads."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from experimently.kit.metrics import incrementer, observer


def test_the_bound_increment_moves_the_exported_counter() -> None:
    registry = CollectorRegistry()
    counter = Counter("kit_test_total", "test", ["reason"], registry=registry)
    add = incrementer(counter.labels("a"))
    add(1)
    add(2)
    assert registry.get_sample_value("kit_test_total", {"reason": "a"}) == 3.0
    assert b'kit_test_total{reason="a"} 3.0' in generate_latest(registry)


def test_a_counter_without_labels_keeps_its_own_inc() -> None:
    registry = CollectorRegistry()
    counter = Counter("kit_plain_total", "test", registry=registry)
    add = incrementer(counter)
    add(1)
    assert registry.get_sample_value("kit_plain_total") == 1.0
    assert add == counter.inc


BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _histogram(registry: CollectorRegistry, name: str) -> Histogram:
    return Histogram(name, "test", ["route"], buckets=BOUNDS, registry=registry)


def _samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    samples = (s for m in registry.collect() for s in m.samples)
    return [(s.name, s.labels, s.value) for s in samples if "created" not in s.name]


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 0.0005, 0.00051, 0.001, 0.0249, 0.025, 0.7, 5.0, 5.01, 1e9],
        [-1.0, 0.3, 0.0001, math.inf, 2.5, 2.4999],
    ],
)
def test_the_observer_fills_the_same_buckets_as_the_library(values: list[float]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    observe = observer(_histogram(ours, "kit_h_seconds").labels("r"))
    reference = _histogram(theirs, "kit_h_seconds").labels("r")
    for value in values:
        observe(value)
        reference.observe(value)
    assert _samples(ours) == _samples(theirs)
    assert ours.get_sample_value("kit_h_seconds_count", {"route": "r"}) == len(values)


def test_a_histogram_without_labels_keeps_its_own_observe() -> None:
    histogram = Histogram("kit_plain_seconds", "test", registry=CollectorRegistry())
    assert observer(histogram) == histogram.observe
