"""Winner / loser / inconclusive, from a p-value or a chance to win."""

from __future__ import annotations

from experimently.stats.model import Verdict


def verdict_from_p_value(
    p_value: float | None, absolute_lift: float | None, *, alpha: float, lower_is_better: bool
) -> Verdict:
    """Significant at ``alpha`` -> winner if the effect goes the good way, loser otherwise."""
    if p_value is None or absolute_lift is None or p_value >= alpha or absolute_lift == 0:
        return Verdict.INCONCLUSIVE
    good = (absolute_lift > 0) != lower_is_better
    return Verdict.WINNER if good else Verdict.LOSER


def verdict_from_chance(
    chance_to_win: float | None, *, win_threshold: float, lose_threshold: float
) -> Verdict:
    """Bayesian: chance to win >= ``win_threshold`` -> winner, <= ``lose_threshold`` -> loser."""
    if chance_to_win is None:
        return Verdict.INCONCLUSIVE
    if chance_to_win >= win_threshold:
        return Verdict.WINNER
    if chance_to_win <= lose_threshold:
        return Verdict.LOSER
    return Verdict.INCONCLUSIVE
