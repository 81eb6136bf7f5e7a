"""Engine throughput: a simple flag and a complex flag over 200,000 distinct contexts.

Budget (design.md section 7): >= 1,000,000 evals/s simple, >= 100,000 evals/s complex, one process.
Run: .venv/bin/python bench/eval_engine.py
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from typing import Any

from experimently_sdk import Evaluator, Reason, Ruleset

N_CONTEXTS = 200_000
RUNS = 3


def simple_flag() -> dict[str, Any]:
    return {
        "key": "simple",
        "type": "boolean",
        "version": 1,
        "salt": "simple",
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "enabled": True,
        "off_variation": "off",
        "fallthrough": {
            "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
        },
    }


def complex_flag() -> dict[str, Any]:
    """10 rules x 3 conditions (`in` over 20 values, `gt`, `semver_gte` or `matches`).

    Only the last rule matches the bench contexts; it serves a 3-way split.
    """
    rules = []
    for r in range(10):
        countries = (
            [f"C{r}{i:02d}" for i in range(20)] if r < 9 else ["DE", *[f"X{i:02d}" for i in range(19)]]
        )
        third = (
            {"attribute": "app_version", "operator": "semver_gte", "values": ["2.0.0"]}
            if r % 2
            else {"attribute": "email", "operator": "matches", "values": [r"@example\.(com|org)$"]}
        )
        rules.append(
            {
                "id": f"rule-{r}",
                "conditions": [
                    {"attribute": "country", "operator": "in", "values": countries},
                    {"attribute": "age", "operator": "gt", "values": [17]},
                    third,
                ],
                "serve": {"variation": "a"} if r < 9 else _three_way(),
            }
        )
    return {
        "key": "complex",
        "type": "string",
        "version": 1,
        "salt": "complex",
        "variations": [{"key": k, "value": k} for k in ("a", "b", "c")],
        "enabled": True,
        "off_variation": "a",
        "rules": rules,
        "fallthrough": {"variation": "a"},
    }


def _three_way() -> dict[str, Any]:
    weights = [("a", 33.34), ("b", 33.33), ("c", 33.33)]
    return {"rollout": {"variations": [{"variation": v, "weight": w} for v, w in weights]}}


def contexts() -> list[dict[str, Any]]:
    return [
        {
            "user_id": f"user-{i}",
            "country": "DE",
            "age": 18 + i % 50,
            "app_version": f"2.{i % 7}.{i % 3}",
            "email": f"person{i}@example.com",
        }
        for i in range(N_CONTEXTS)
    ]


def best_rate(run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return N_CONTEXTS / best


def main() -> None:
    ruleset = Ruleset.from_payload({"flags": [simple_flag(), complex_flag()], "segments": []}, strict=True)
    evaluator = Evaluator(ruleset)
    ctxs = contexts()
    evaluate = evaluator.evaluate
    last = evaluate("complex", ctxs[0])
    assert last.reason == Reason.SPLIT and last.rule_index == 9, last  # only the last rule matches

    def loop(flag: str) -> Callable[[], None]:
        def run() -> None:
            for ctx in ctxs:
                evaluate(flag, ctx)

        return run

    def batch(flag: str) -> Callable[[], None]:
        return lambda: evaluator.evaluate_many(flag, ctxs) and None

    figures = {
        "simple_evals_per_s": round(best_rate(loop("simple"))),
        "complex_evals_per_s": round(best_rate(loop("complex"))),
        "simple_batch_evals_per_s": round(best_rate(batch("simple"))),
        "complex_batch_evals_per_s": round(best_rate(batch("complex"))),
    }
    print(f"python {platform.python_version()} ({platform.python_implementation()}), {N_CONTEXTS} contexts")
    print(f"best of {RUNS} runs")
    for name, value in figures.items():
        print(f"  {name:28s} {value:>12,}")
    print(
        json.dumps(
            {
                "bench": "eval_engine",
                "contexts": N_CONTEXTS,
                "runs": RUNS,
                "python": platform.python_version(),
                **figures,
                "budget_simple": 1_000_000,
                "budget_complex": 100_000,
            }
        )
    )


if __name__ == "__main__":
    main()
