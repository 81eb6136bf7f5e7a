"""``kit.metrics.incrementer``: the bound increment moves the counter every exporter reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from experimently.kit.metrics import incrementer


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
