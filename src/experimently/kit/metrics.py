"""Prometheus counters and histograms on the hot path.

``Counter.inc`` of prometheus_client checks, on every call, that the metric has its label values
(three Python calls before the increment itself). The request path increments four or five counters
per answer, so for the labelled children it keeps (``functools.cache``) it binds the child's value
increment once instead: the same lock and the same value, read by every exporter as before
(``tests/foundation/test_metrics_kit.py`` checks the figures still move).

``Histogram.observe`` does the same label check, then walks the bucket bounds one by one in Python
(14 for the request duration); :func:`observer` finds the bucket with ``bisect`` instead (the first
bound ``>=`` the value, as the library's ``amount <= bound`` walk does).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

__all__ = ["incrementer", "observer"]


def incrementer(child: Any) -> Callable[[float], None]:
    """A callable adding its argument to a labelled counter child. The child's own ``inc`` when the
    library's internals are not the expected ones (a metric without labels, another version)."""
    value = getattr(child, "_value", None)
    inc = getattr(value, "inc", None)
    if callable(inc) and getattr(child, "_labelvalues", None):
        bound: Callable[[float], None] = inc
        return bound
    fallback: Callable[[float], None] = child.inc
    return fallback


def observer(child: Any) -> Callable[[float], None]:
    """A callable observing its argument in a labelled histogram child: the sum and the one bucket
    the library's ``observe`` would add to. The child's own ``observe`` when the library's internals
    are not the expected ones."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(getattr(child, "_sum", None), "inc", None)
    if not (
        isinstance(bounds, list)
        and isinstance(buckets, list)
        and len(bounds) == len(buckets)
        and callable(total)
        and getattr(child, "_labelvalues", None)
    ):
        fallback: Callable[[float], None] = child.observe
        return fallback
    upper: list[float] = bounds
    incs = [bucket.inc for bucket in buckets]

    def observe(amount: float) -> None:
        total(amount)
        # the last bound is +Inf, so every number has a bucket (a NaN, never a duration, would land
        # in the first one, where the library's walk counts it in none)
        incs[bisect_left(upper, amount)](1)

    return observe
