"""Worst-case cost of one flag evaluation on adversarial rules and contexts.

Budget (issue #11): any single evaluation <= 1 ms for any context value up to 4,096 characters.
Cases: patterns that stall a backtracking engine (and the largest programs the save-time check
accepts), dates such as "1e-10000000", over-long versions, and 15 levels of segments that share
their sub-segments. For each case: the first evaluation after the ruleset is built (cold: RE2 builds
its DFA lazily; the median of COLD_RUNS fresh builds), then REPEAT warm evaluations (median, p99,
max). On a shared machine the max is mostly scheduler noise; p99 and the cold median are the
figures to compare with the budget. Bounded: a fixed list of cases.

Run: .venv/bin/python bench/eval_adversarial.py
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from typing import Any

from experimently_sdk import Evaluator, Reason, Ruleset
from experimently_sdk.patterns import (
    _compiled,  # the compile cache, cleared so "cold" is cold
    check_pattern,
)

REPEAT = 50
COLD_RUNS = 5
LONG = 4096

PATTERNS = [
    "^(a+)+$",
    "(\\w+\\s?)+$",
    "(.*a){20}$",
    "(a|aa)+$",
    "((a*)*)*b",
    "(x+x+)+y",
    "(a|b)*a(a|b){20}$",
    "(?:a?){300}a{300}",
    "(?:\\s*\\w){100}!$",
    ".{0,100}x",
    "^.{8,64}$",
    "(?:\\W*\\w){50}!$",
]
VALUES = [
    "a" * (LONG - 1) + "!",
    "ab " * (LONG // 3),
    ("ab" * LONG)[:LONG],
    "\u00e9" * LONG,
    ("a!b \u2028" * LONG)[:LONG],
]
DATES = [
    "1e-10000000",
    "-1e-10000000",
    "1e308",
    "9" * 64,
    "2024-01-01T00:00:00." + "9" * 40 + "Z",
    "x" * LONG,
]
VERSIONS = ["9" * 256, "9" * LONG, "1.2.3-" + ".".join(["a1"] * 80), "v" + "0" * 255]


def flag(key: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": key,
        "type": "boolean",
        "version": 1,
        "salt": key,
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "enabled": True,
        "off_variation": "off",
        "rules": [{"id": "r", "conditions": conditions, "serve": {"variation": "on"}}],
        "fallthrough": {"variation": "off"},
    }


def diamond(depth: int) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    for level in range(depth, 0, -1):
        if level == depth:
            conditions = [{"attribute": "plan", "operator": "eq", "values": ["pro"]}]
        else:
            conditions = [
                {"attribute": "", "operator": "in_segment", "values": [f"l{level + 1}"]},
                {"attribute": "", "operator": "in_segment", "values": [f"r{level + 1}"]},
            ]
        segments.extend({"key": f"{side}{level}", "conditions": conditions} for side in "lr")
    top = [{"attribute": "", "operator": "in_segment", "values": [k]} for k in ("l1", "r1")]
    segments.append({"key": "s0", "conditions": top})
    return segments


def cases() -> list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """(name, flag, segments, contexts)."""
    out = []
    for i, pattern in enumerate(PATTERNS):
        for ci in (False, True):
            if check_pattern(pattern, case_insensitive=ci) is not None:
                print(f"  refused at save time: {pattern} ci={ci}")
                continue
            condition = {"attribute": "a", "operator": "matches", "values": [pattern], "case_insensitive": ci}
            out.append(
                (f"matches {pattern} ci={ci}", flag(f"p{i}{ci}", [condition]), [], [{"a": v} for v in VALUES])
            )
    for operator in ("before", "after"):
        condition = {"attribute": "a", "operator": operator, "values": ["2024-01-01"]}
        out.append(
            (f"{operator} adversarial dates", flag(operator, [condition]), [], [{"a": d} for d in DATES])
        )
    condition = {"attribute": "a", "operator": "semver_gt", "values": ["1.0.0"]}
    out.append(("semver_gt long versions", flag("semver", [condition]), [], [{"a": v} for v in VERSIONS]))
    condition = {"attribute": "", "operator": "in_segment", "values": ["s0"]}
    out.append(("in_segment diamond depth 15", flag("seg", [condition]), diamond(15), [{"plan": "pro"}]))
    return out


def _build(data: dict[str, Any], segments: list[dict[str, Any]]) -> Evaluator:
    _compiled.cache_clear()
    return Evaluator(Ruleset.from_payload({"flags": [data], "segments": segments}, strict=True))


def measure() -> list[dict[str, Any]]:
    rows = []
    for name, data, segments, contexts in cases():
        key = data["key"]
        cold: list[float] = []  # per context: median of COLD_RUNS first evaluations (fresh compile)
        warm: list[float] = []
        for context in contexts:
            firsts = []
            for _ in range(COLD_RUNS):
                engine = _build(data, segments)
                started = time.perf_counter()
                result = engine.evaluate(key, context)
                firsts.append(time.perf_counter() - started)
                assert result.reason is not Reason.ERROR, (name, result)
            cold.append(statistics.median(firsts))
            for _ in range(REPEAT):
                started = time.perf_counter()
                engine.evaluate(key, context)
                warm.append(time.perf_counter() - started)
        warm.sort()
        rows.append(
            {
                "case": name,
                "cold_us": round(max(cold) * 1e6, 1),
                "warm_median_us": round(statistics.median(warm) * 1e6, 1),
                "warm_p99_us": round(warm[int(len(warm) * 0.99) - 1] * 1e6, 1),
                "warm_max_us": round(warm[-1] * 1e6, 1),
            }
        )
    return rows


def main() -> None:
    rows = measure()
    for row in rows:
        print(
            f"  {row['case'][:42]:42s} cold {row['cold_us']:8.1f} us"
            f"  warm median {row['warm_median_us']:6.1f}"
            f"  p99 {row['warm_p99_us']:7.1f}  max {row['warm_max_us']:8.1f}"
        )
    worst_p99 = max(rows, key=lambda r: r["warm_p99_us"])
    worst_cold = max(rows, key=lambda r: r["cold_us"])
    summary = {
        "bench": "eval_adversarial",
        "python": platform.python_version(),
        "cases": len(rows),
        "value_length": LONG,
        "worst_warm_median_us": max(r["warm_median_us"] for r in rows),
        "worst_warm_p99_us": worst_p99["warm_p99_us"],
        "worst_warm_p99_case": worst_p99["case"],
        "worst_warm_max_us": max(r["warm_max_us"] for r in rows),
        "worst_cold_us": worst_cold["cold_us"],
        "worst_cold_case": worst_cold["case"],
        "budget_us": 1000,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
