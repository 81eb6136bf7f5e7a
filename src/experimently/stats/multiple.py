"""Multiple-testing corrections of p-values: Holm-Bonferroni and Benjamini-Hochberg.

Adjusted p-values are capped at 1 and monotone in the raw p-values. Intervals are never adjusted.
"""

from __future__ import annotations

from collections.abc import Sequence

from experimently.stats.model import Correction, MessageCode, MultipleTestingResult
from experimently.stats.validate import is_finite


def _holm(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m * p_values[i] / (rank + 1))
        adjusted[i] = min(running, 1.0)
    return adjusted


def adjust_p_values(p_values: Sequence[float], method: Correction = Correction.HOLM) -> MultipleTestingResult:
    """Adjusted p-values in the input order; an empty family gives an empty tuple."""
    if not all(is_finite(p) and 0.0 <= p <= 1.0 for p in p_values):
        return MultipleTestingResult((), method, messages=(MessageCode.INVALID_INPUT,))
    if method is Correction.HOLM:
        adjusted = _holm(p_values)
    elif method is Correction.BENJAMINI_HOCHBERG:
        adjusted = _benjamini_hochberg(p_values)
    else:
        adjusted = [float(p) for p in p_values]
    return MultipleTestingResult(tuple(adjusted), method)
