"""Write spec/evaluation-vectors.json (cross-SDK test vectors).

Expected answers come from the hand-written tables of test_sdk_operators.py (one flag per
condition case) and from the evaluation-order cases below; buckets are computed with MurmurHash3
directly, not through the engine. Run from the repository root:

    .venv/bin/python sdk/python/tests/build_vectors.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import mmh3

sys.path.insert(0, str(Path(__file__).parent))

from sdk_helpers import cond, flag, rule
from test_sdk_operators import CASES, SEGMENT_CASES, SEGMENTS

OUT = Path(__file__).resolve().parents[3] / "spec" / "evaluation-vectors.json"


def ref_bucket(seed: str, unit: str) -> int:
    return mmh3.hash(f"{seed}:{unit}".encode(), 0, signed=False) % 10000


def condition_vectors(flags: list[dict[str, Any]], cases: list[dict[str, Any]]) -> None:
    for index, (name, condition, context, expected) in enumerate(CASES + SEGMENT_CASES):
        key = f"cond-{index:03d}"
        flags.append(flag(key=key, salt=key, rules=[rule("r", [condition])]))
        variation = "on" if expected else "off"
        reason = "TARGETING_MATCH" if expected else "DEFAULT"
        cases.append(
            {
                "name": name,
                "flag": key,
                "context": context,
                "expected": {"variation": variation, "value": expected, "reason": reason},
            }
        )


FIFTY = {"rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}}


def order_vectors(flags: list[dict[str, Any]], cases: list[dict[str, Any]]) -> None:
    flags.extend(
        [
            flag(key="off-flag", salt="off-flag", enabled=False, fallthrough={"variation": "on"}),
            flag(key="static-flag", salt="static-flag", fallthrough={"variation": "on"}),
            flag(key="prereq-base", salt="prereq-base", rules=[rule("beta", [cond("beta", "eq", [True])])]),
            flag(
                key="prereq-child",
                salt="prereq-child",
                prerequisites=[{"flag": "prereq-base", "variation": "on"}],
                fallthrough={"variation": "on"},
            ),
            flag(
                key="ordered",
                salt="ordered",
                targets=[{"variation": "off", "values": ["vip"]}],
                rules=[
                    rule("first", [cond("country", "eq", ["DE"])]),
                    rule("second", [], {"variation": "off"}),
                ],
            ),
            flag(key="rollout", salt="rollout-salt", fallthrough=FIFTY),
        ]
    )

    def case(
        name: str,
        key: str,
        context: dict[str, Any],
        variation: str | None,
        value: Any,
        reason: str,
        **extra: Any,
    ) -> None:
        expected = {"variation": variation, "value": value, "reason": reason, **extra}
        cases.append({"name": name, "flag": key, "context": context, "expected": expected})

    case("disabled flag serves off variation", "off-flag", {"user_id": "u"}, "off", False, "DISABLED")
    case("static fallthrough", "static-flag", {}, "on", True, "STATIC")
    case("prerequisite met", "prereq-child", {"beta": True}, "on", True, "STATIC")
    case("prerequisite unmet", "prereq-child", {"beta": False}, "off", False, "DISABLED")
    case(
        "target before rules", "ordered", {"user_id": "vip", "country": "DE"}, "off", False, "TARGETING_MATCH"
    )
    case("first rule wins", "ordered", {"user_id": "x", "country": "DE"}, "on", True, "TARGETING_MATCH")
    case("second rule", "ordered", {"user_id": "x", "country": "FR"}, "off", False, "TARGETING_MATCH")
    case("missing unit is an error", "rollout", {"country": "DE"}, None, None, "ERROR")
    for unit in ["user-1", "user-2", "user-3", "alice", "bob", "42", "\u00fcnicode-\u65e5\u672c"]:
        b = ref_bucket("rollout-salt", unit)
        on = b < 5000
        case(f"rollout {unit}", "rollout", {"user_id": unit}, "on" if on else "off", on, "SPLIT", bucket=b)
    b = ref_bucket("rollout-salt", "42")
    case(
        "rollout integer unit",
        "rollout",
        {"user_id": 42},
        "on" if b < 5000 else "off",
        b < 5000,
        "SPLIT",
        bucket=b,
    )


def main() -> None:
    flags: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    condition_vectors(flags, cases)
    order_vectors(flags, cases)
    seeds = ["new-checkout", "exp:traffic", "exp:variant", "layer:checkout", "s"]
    units = ["user-1", "user-2", "", "42", "\u00fcser", "a:b"]
    bucketing = [{"seed": s, "unit": u, "bucket": ref_bucket(s, u)} for s in seeds for u in units]
    document = {"version": 1, "bucketing": bucketing, "segments": SEGMENTS, "flags": flags, "cases": cases}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases, {len(bucketing)} bucketing vectors -> {OUT.name}")


if __name__ == "__main__":
    main()
