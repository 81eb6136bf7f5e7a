"""A garbage collection of 1 ms or more is observed in ``experimently_gc_pause_seconds``."""

from __future__ import annotations

import gc

from experimently.kit import gc_pauses


def _count(generation: str) -> float:
    for metric in gc_pauses.GC_PAUSE.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["generation"] == generation:
                return float(sample.value)
    return 0.0


def test_full_collection_over_a_large_heap__observed_once_installed() -> None:
    # Given a heap of a million container objects and the callback installed (twice: idempotent)
    heap = [[i] for i in range(1_000_000)]
    gc_pauses.install()
    gc_pauses.install()
    assert gc.callbacks.count(gc_pauses._callback) == 1
    before = _count("2")
    # When a full collection walks it
    gc.collect()
    # Then its pause is observed under generation 2
    assert _count("2") == before + 1
    del heap
