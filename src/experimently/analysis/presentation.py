"""What a reader needs beside the raw numbers: the metric as defined, interval levels, what the
correction adjusted, what ``absolute_lift`` means per engine, and a plain-language summary per metric.

Pure functions over the serialized analysis (``stats.to_json_dict``); the numbers themselves are never
rounded or changed here, only described (docs/statistics.md, "How to read a result").
"""

from __future__ import annotations

from typing import Any

from experimently.metrics.schemas import FormatType, MetricFormat

DEFAULT_WIN, DEFAULT_LOSE = 0.95, 0.05

LIFT_MEANING = {
    "frequentist": "difference of the sample means, treatment minus control",
    "sequential": "difference of the sample means, treatment minus control",
    "bayesian": "posterior mean of the difference, treatment minus control",
}
CORRECTION_LABEL = {"holm": "Holm", "benjamini-hochberg": "Benjamini-Hochberg", "none": "no"}


def canonical_correction(name: str) -> str:
    return "benjamini-hochberg" if name == "bh" else name


def applied_correction(name: str, engine: str) -> str:
    """The correction the answer applied: the Bayesian engine has no p-value to adjust, so ``none``
    whatever was asked (the experiment's setting still applies when read with another engine)."""
    return "none" if engine == "bayesian" else name


def correction_detail(name: str, family_size: int, engine: str) -> dict[str, Any]:
    """Which correction adjusted what: the p-values of every goal comparison, as one family."""
    method = canonical_correction(applied_correction(name, engine))
    if engine == "bayesian":
        explanation = (
            "Bayesian results have no p-values, so nothing is adjusted: the chance to win of each "
            "comparison stands on its own. Intervals are never adjusted."
        )
        return {
            "method": method,
            "adjusts": [],
            "family_size": 0,
            "intervals_adjusted": False,
            "explanation": explanation,
        }
    if method == "none":
        explanation = (
            f"No correction: the {family_size} goal comparison(s) are each judged on their own p-value "
            "(p_value_adjusted equals p_value). Intervals are never adjusted."
        )
        return {
            "method": method,
            "adjusts": [],
            "family_size": family_size,
            "intervals_adjusted": False,
            "explanation": explanation,
        }
    kind = (
        "family-wise error rate (Holm-Bonferroni)"
        if method == "holm"
        else "false discovery rate (Benjamini-Hochberg)"
    )
    explanation = (
        f"The p-values of the {family_size} goal comparison(s) (every variant against control on every "
        f"primary and secondary metric) are adjusted together to control the {kind}; p_value_adjusted "
        "holds the result and the verdict uses it. Guardrail metrics are judged on their own, "
        "unadjusted. Intervals are not adjusted."
    )
    return {
        "method": method,
        "adjusts": ["p_value"],
        "family_size": family_size,
        "intervals_adjusted": False,
        "explanation": explanation,
    }


def metric_block(key: str, name: str, kind: str, direction: str, fmt: MetricFormat) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "kind": kind,
        "direction": direction,
        "format": fmt.model_dump(mode="json"),
    }


def _digits(value: float, decimals: int | None, default: int) -> str:
    places = default if decimals is None else decimals
    return f"{value:,.{places}f}"


def format_value(value: float | None, fmt: MetricFormat, kind: str) -> str:
    """A value in the metric's format, for sentences (the JSON numbers stay raw)."""
    if value is None:
        return "n/a"
    if fmt.type is FormatType.PERCENT:
        return f"{_digits(value * 100.0, fmt.decimals, 1)}%"
    if fmt.type is FormatType.CURRENCY:
        return f"{_digits(value, fmt.decimals, 2)} {fmt.currency}"
    if fmt.type is FormatType.DURATION:
        return f"{_digits(value, fmt.decimals, 0 if fmt.duration_unit == 'ms' else 2)} {fmt.duration_unit}"
    if fmt.type is FormatType.COUNT and kind == "count" and value == int(value) and fmt.decimals is None:
        return f"{int(value):,}"
    return _digits(value, fmt.decimals, 2 if abs(value) >= 1 or value == 0 else 4)


def format_difference(value: float | None, fmt: MetricFormat, kind: str) -> str:
    """A difference between two values: rates differ in percentage points, not percent."""
    if value is not None and fmt.type is FormatType.PERCENT:
        return f"{_digits(value * 100.0, fmt.decimals, 2)} percentage points"
    return format_value(value, fmt, kind)


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100.0:+.1f}%" if signed else f"{value * 100.0:.1f}%"


def _chance(value: float | None) -> str:
    """A probability the data never makes certain: "> 99.9%" rather than a rounded "100.0%" (the
    results table says the same)."""
    if value is None:
        return "n/a"
    if value > 0.999:
        return "> 99.9%"
    if value < 0.001:
        return "< 0.1%"
    return _pct(value, False)


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def _interval(c: dict[str, Any], fmt: MetricFormat, kind: str) -> tuple[str, str] | None:
    """The relative interval as text (or the absolute one when the control mean is 0)."""
    rel = c.get("relative_interval")
    if c.get("relative_lift") is not None and rel:
        lo, hi = rel.get("lower"), rel.get("upper")
        return _pct(lo) if lo is not None else "-inf", _pct(hi) if hi is not None else "+inf"
    ab = c.get("absolute_interval")
    if ab:
        lo, hi = ab.get("lower"), ab.get("upper")
        return (
            format_difference(lo, fmt, kind) if lo is not None else "-inf",
            format_difference(hi, fmt, kind) if hi is not None else "+inf",
        )
    return None


def _contains_zero(interval: dict[str, Any] | None) -> bool:
    if not interval:
        return True
    lo, hi = interval.get("lower"), interval.get("upper")
    return (lo is None or lo <= 0) and (hi is None or hi >= 0)


def bayesian_verdict_note(c: dict[str, Any], level: float, thresholds: dict[str, float]) -> str | None:
    """Why a Bayesian winner (or loser) can have an interval that still contains 0, when it does."""
    if c.get("verdict") not in ("winner", "loser") or not _contains_zero(c.get("absolute_interval")):
        return None
    chance = c.get("chance_to_win")
    threshold = thresholds["win"] if c["verdict"] == "winner" else thresholds["lose"]
    side = "at or above the win" if c["verdict"] == "winner" else "at or below the lose"
    return (
        f"The verdict follows the chance to win ({_chance(chance)}, {side} threshold "
        f"{_pct(threshold, False)}). The {level * 100:g}% credible interval still contains 0 because it "
        "is two-sided: with a flat prior it excludes 0 only when the chance to win is above "
        f"{_pct(1 - (1 - level) / 2, False)} (or below {_pct((1 - level) / 2, False)})."
    )


def _sentence(
    c: dict[str, Any],
    *,
    name: str,
    kind: str,
    fmt: MetricFormat,
    engine: str,
    role: str,
    level: float,
    correction: str,
    cuped: bool,
    thresholds: dict[str, float] | None,
    pre_window: bool = True,
) -> str:
    variant = c["variant_key"]
    control, treatment = c.get("control") or {}, c.get("treatment") or {}
    messages = set(c.get("messages") or [])
    if c.get("absolute_lift") is None:
        reason = {
            "NOT_ENOUGH_DATA": "not enough data yet (each arm needs at least 2 units)",
            "INVALID_INPUT": "the aggregated statistics are inconsistent",
            "NUMERIC_RANGE": (
                "the numbers are beyond what can be computed (a value so large its square overflows: "
                "cap the metric with winsorize_cap)"
            ),
        }
        why = next((text for code, text in reason.items() if code in messages), "no result yet")
        return f"{variant} vs control on {name}: {why}."
    diff = float(c["absolute_lift"])
    verb = "did not change" if diff == 0 else "raised" if diff > 0 else "lowered"
    base = f"{variant.capitalize()} {verb} {name} from {format_value(control.get('mean'), fmt, kind)}"
    base += f" to {format_value(treatment.get('mean'), fmt, kind)}"
    rel = c.get("relative_lift")
    change = (
        _pct(rel) if rel is not None else f"{'+' if diff >= 0 else ''}{format_difference(diff, fmt, kind)}"
    )
    interval = _interval(c, fmt, kind)
    label = "credible interval" if engine == "bayesian" else "interval"
    if engine == "sequential":
        label = "always-valid interval"
    detail = change
    if interval is not None:
        detail += f", {level * 100:g}% {label} {interval[0]} to {interval[1]}"
    if cuped and c.get("cuped_theta") is not None and "CUPED_NO_PREPERIOD" not in messages:
        detail += ", CUPED-adjusted"
    text = f"{base} ({detail})"
    if cuped and ({"CUPED_NO_PREPERIOD", "CUPED_NOT_SUPPORTED"} & messages):
        if "CUPED_NOT_SUPPORTED" in messages:
            why = "not supported for ratio metrics"
        elif not pre_window:
            why = "this metric has no pre-period window (cuped_pre_window_days is 0)"
        else:
            why = "no pre-period data"
        text += f" [CUPED not applied: {why}]"
    if "ZERO_VARIANCE" in messages:
        return text + "; every unit has the same value, so there is no test."
    if engine == "bayesian":
        assert thresholds is not None
        chance = c.get("chance_to_win")
        verdict = c.get("verdict")
        risk = c.get("risk") or {}
        outcome = {
            "winner": "a winner",
            "loser": "a loser",
            "inconclusive": "not decided yet",
        }[str(verdict)]
        text += (
            f"; the chance that it is better is {_chance(chance)} (winner at "
            f"{_pct(thresholds['win'], False)}, loser at {_pct(thresholds['lose'], False)}), so it is "
            f"{outcome}; expected loss if shipped {format_difference(risk.get('treatment'), fmt, kind)}."
        )
        note = bayesian_verdict_note(c, level, thresholds)
        return text + (" " + note if note else "")
    p_value = c.get("p_value")
    if p_value is None:
        return text + "."
    adjusted = c.get("p_value_adjusted")
    used = adjusted if adjusted is not None and role == "goal" else p_value
    qualifier = "always-valid p" if engine == "sequential" else "p"
    if role != "goal":
        how = "guardrail, not adjusted"
    elif correction == "none" or adjusted is None:
        how = "not adjusted"
    else:
        how = f"{CORRECTION_LABEL.get(correction, correction)}-adjusted"
    significant = c.get("verdict") in ("winner", "loser")
    judged = "statistically significant" if significant else "not statistically significant"
    good = c.get("verdict") == "winner"
    tail = ""
    if significant:
        tail = " — an improvement" if good else " — a change for the worse"
    return text + f"; the difference is {judged} ({qualifier} {_p(float(used))}, {how}){tail}."


def summary(
    analysis: dict[str, Any],
    *,
    name: str,
    kind: str,
    fmt: MetricFormat,
    engine: str,
    level: float,
    correction: str,
    cuped: bool,
    thresholds: dict[str, float] | None,
    unserved: frozenset[str] = frozenset(),
    pre_window: bool = True,
) -> str:
    """A plain-language paragraph: one sentence per variant against control (``unserved``: the
    variants weighted 0, which get no traffic, said so rather than "not enough data yet")."""
    comparisons = analysis.get("comparisons") or []
    if not comparisons:
        return f"{name}: no result yet (no data for the variants)."
    return " ".join(
        f"{c['variant_key']} vs control on {name}: no traffic (its weight is 0, so it is never assigned)."
        if c["variant_key"] in unserved and c.get("absolute_lift") is None
        else _sentence(
            c,
            name=name,
            kind=kind,
            fmt=fmt,
            engine=engine,
            role=str(analysis.get("role", "goal")),
            level=level,
            correction=canonical_correction(correction),
            cuped=cuped,
            thresholds=thresholds,
            pre_window=pre_window,
        )
        for c in comparisons
    )


def annotate_comparisons(
    analysis: dict[str, Any], *, engine: str, level: float, thresholds: dict[str, float] | None
) -> None:
    """Per comparison (in place): ``interval_level``, ``posterior_sd`` (Bayesian only),
    ``absolute_lift_meaning`` and, for Bayesian verdicts, ``verdict_note``."""
    for c in analysis.get("comparisons") or []:
        c["interval_level"] = level
        if engine != "bayesian":
            c["posterior_sd"] = None
        c["absolute_lift_meaning"] = LIFT_MEANING[engine]
        c["verdict_note"] = (
            bayesian_verdict_note(c, level, thresholds) if engine == "bayesian" and thresholds else None
        )
