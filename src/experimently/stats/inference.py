"""Shared shape of an engine's output and the interval helper the engines use."""

from __future__ import annotations

import math
from dataclasses import dataclass

from experimently.stats.lazy import lazy
from experimently.stats.model import Alternative, Interval, MessageCode, Risk

special = lazy("scipy.special")


@dataclass(frozen=True, slots=True)
class Inference:
    """What an engine adds to a point estimate. ``absolute_lift`` / ``relative_lift`` are the reported
    point estimates (the Bayesian engine reports posterior means)."""

    absolute_lift: float
    absolute_interval: Interval | None
    relative_lift: float | None
    relative_interval: Interval | None
    p_value: float | None = None
    chance_to_win: float | None = None
    risk: Risk | None = None
    posterior_sd: float | None = None
    messages: tuple[MessageCode, ...] = ()


def quantile(alpha: float, alternative: Alternative, df: float | None) -> float:
    """Critical value: t with ``df`` (Welch) or the standard normal when ``df`` is None."""
    level = 1.0 - alpha if alternative is not Alternative.TWO_SIDED else 1.0 - alpha / 2.0
    return float(special.ndtri(level) if df is None else special.stdtrit(df, level))


def interval(center: float, half_width: float, alternative: Alternative) -> Interval:
    """Interval around ``center``; the end a one-sided test leaves open is None."""
    lower = center - half_width
    upper = center + half_width
    if alternative is Alternative.GREATER:
        return Interval(_finite(lower), None)
    if alternative is Alternative.LESS:
        return Interval(None, _finite(upper))
    return Interval(_finite(lower), _finite(upper))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def clamp_probability(value: float) -> float:
    """Map a computed probability into [0, 1] (and NaN, which should not occur, to 1)."""
    if not math.isfinite(value):
        return 1.0
    return min(max(value, 0.0), 1.0)
