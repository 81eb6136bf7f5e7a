"""Build sufficient statistics from raw arrays, the way SQL aggregates them per unit."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from experimently.stats import VariantStats

Array = NDArray[np.float64]


def stats_of(key: str, y: Array, x: Array | None = None, d: Array | None = None) -> VariantStats:
    """Sufficient statistics of per-unit values ``y`` (pre-period ``x``, ratio denominator ``d``)."""
    return VariantStats(
        key=key,
        n=int(y.size),
        sum=float(y.sum()),
        sum_squares=float((y * y).sum()),
        pre_sum=None if x is None else float(x.sum()),
        pre_sum_squares=None if x is None else float((x * x).sum()),
        cross_sum=None if x is None else float((x * y).sum()),
        denom_sum=None if d is None else float(d.sum()),
        denom_sum_squares=None if d is None else float((d * d).sum()),
        num_denom_cross=None if d is None else float((y * d).sum()),
    )


def binomial_stats(key: str, n: int, conversions: int) -> VariantStats:
    return VariantStats(key=key, n=n, sum=float(conversions), sum_squares=float(conversions))
