"""Sample-ratio mismatch: Pearson chi-square goodness of fit of units against configured weights."""

from __future__ import annotations

import math
from collections.abc import Mapping

from experimently.stats.inference import clamp_probability
from experimently.stats.lazy import lazy
from experimently.stats.model import MessageCode, SrmResult
from experimently.stats.validate import is_finite

stats = lazy("scipy.stats")

SRM_THRESHOLD = 0.001


def _invalid(units: Mapping[str, int], weights: Mapping[str, float]) -> bool:
    if set(units) - set(weights):
        return True
    counts_ok = all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in units.values())
    weights_ok = all(is_finite(w) and w >= 0 for w in weights.values())
    return not (counts_ok and weights_ok)


def srm_check(
    units: Mapping[str, int], weights: Mapping[str, float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square test of ``units`` per variant against ``weights`` (any positive scale).

    Rules, in order: impossible input (negative, non-finite, a variant with units but no configured
    weight) -> ``INVALID_INPUT``; units in a weight-0 variant -> flagged with p = 0; fewer than two
    weighted variants or no units -> ``SRM_NOT_APPLICABLE``. Weight-0 variants without units are left out.
    """
    observed = {key: int(units.get(key, 0)) for key in weights} if not _invalid(units, weights) else {}
    if not observed or not (is_finite(threshold) and 0 < threshold < 1):
        return SrmResult(None, None, None, False, threshold=threshold, messages=(MessageCode.INVALID_INPUT,))
    if any(weights[k] == 0 and observed[k] > 0 for k in observed):
        return SrmResult(0.0, None, None, True, observed=observed, threshold=threshold)
    weighted = {k: float(w) for k, w in weights.items() if w > 0}
    total = sum(observed[k] for k in weighted)
    if len(weighted) < 2 or total == 0:
        return SrmResult(
            None,
            None,
            None,
            False,
            observed=observed,
            threshold=threshold,
            messages=(MessageCode.SRM_NOT_APPLICABLE,),
        )
    weight_sum = sum(weighted.values())
    expected = {k: total * w / weight_sum for k, w in weighted.items()}
    if not all(math.isfinite(e) and e > 0 for e in expected.values()):  # weights spanning 1e-300..1e300
        return SrmResult(
            None,
            None,
            None,
            False,
            observed=observed,
            threshold=threshold,
            messages=(MessageCode.NUMERIC_RANGE,),
        )
    chi_square = sum((observed[k] - e) ** 2 / e for k, e in expected.items())
    df = len(weighted) - 1
    p_value = clamp_probability(float(stats.chi2.sf(chi_square, df)))
    return SrmResult(
        p_value,
        chi_square,
        df,
        p_value < threshold,
        expected=expected,
        observed={k: observed[k] for k in weighted},
        threshold=threshold,
    )
