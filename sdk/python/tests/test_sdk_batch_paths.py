"""The batch paths give exactly what one evaluation gives: ``evaluate_many`` (one flag, many contexts)
and ``evaluate_all`` (one context, every flag) against ``evaluate`` over every cross-SDK vector and the
error cases (unknown or refused flag, default of the wrong type, a context that is not a mapping, an
experiment resolver)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdk_helpers import evaluator, flag, rule

from experimently_sdk import ErrorCode, Evaluator, Ruleset

SPEC = next(p / "spec" for p in Path(__file__).resolve().parents if (p / "spec").is_dir())
VECTORS = json.loads((SPEC / "evaluation-vectors.json").read_text("utf-8"))
EVALUATOR = Evaluator(Ruleset.from_payload({"flags": VECTORS["flags"], "segments": VECTORS["segments"]}))


def test_evaluate_many__same_as_evaluate_for_every_vector() -> None:
    by_flag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in VECTORS["cases"]:
        by_flag[case["flag"]].append(case["context"])
    assert len(by_flag) > 10
    for key, contexts in by_flag.items():
        assert EVALUATOR.evaluate_many(key, contexts) == [EVALUATOR.evaluate(key, c) for c in contexts], key


def test_evaluate_all__same_as_evaluate_for_every_flag() -> None:
    for case in VECTORS["cases"][:40]:
        everything = EVALUATOR.evaluate_all(case["context"])
        assert set(everything) == {f["key"] for f in VECTORS["flags"]}
        for key, result in everything.items():
            assert result == EVALUATOR.evaluate(key, case["context"]), key


def test_batch_paths__errors_as_single_evaluation() -> None:
    engine = evaluator(
        [
            flag(key="f"),
            flag(
                key="s",
                type="string",
                variations=[{"key": "a", "value": "x"}],
                off_variation="a",
                fallthrough={"variation": "a"},
            ),
        ]
    )
    contexts: list[Any] = [{"user_id": "u"}, "not a mapping", {"user_id": 7}]
    for key, default in [("f", None), ("f", "wrong type"), ("s", "fine"), ("ghost", 3)]:
        many = engine.evaluate_many(key, contexts, default=default)
        assert many == [engine.evaluate(key, c, default=default) for c in contexts]
    assert [r.error_code for r in engine.evaluate_many("ghost", contexts)] == [ErrorCode.FLAG_NOT_FOUND] * 3
    assert engine.evaluate_many("f", ["x"])[0].error_code == ErrorCode.INVALID_CONTEXT  # type: ignore[list-item]  # the bad context is the point
    assert engine.evaluate_many("f", [{}], default="x")[0].error_code == ErrorCode.TYPE_MISMATCH
    defaults = {"f": True, "s": "d"}
    assert engine.evaluate_all({"user_id": "u"}, defaults=defaults) == {
        k: engine.evaluate(k, {"user_id": "u"}, default=d) for k, d in defaults.items()
    }


def test_batch_paths__refused_flag_is_parse_error_everywhere() -> None:
    broken = flag(key="broken", off_variation="ghost")
    engine = Evaluator(Ruleset.from_payload({"flags": [flag(), broken], "segments": []}))
    assert engine.evaluate_many("broken", [{}, {}])[0].error_code == ErrorCode.PARSE_ERROR
    everything = engine.evaluate_all({}, defaults={"broken": False})
    assert (everything["broken"].error_code, everything["broken"].value) == (ErrorCode.PARSE_ERROR, False)
    assert everything["f"] == engine.evaluate("f", {})


def test_batch_paths__experiment_resolver_passed_through() -> None:
    data = flag(
        rules=[
            rule("r", [], {"experiment": {"key": "exp", "variations": {"control": "off", "treatment": "on"}}})
        ]
    )
    engine = evaluator([data])

    def resolve(key: str, _context: Mapping[str, Any]) -> str | None:
        return "treatment" if key == "exp" else None

    many = engine.evaluate_many("f", [{"user_id": "u"}], experiment_resolver=resolve)
    every = engine.evaluate_all({"user_id": "u"}, experiment_resolver=resolve)
    assert many[0] == every["f"] == engine.evaluate("f", {"user_id": "u"}, experiment_resolver=resolve)
    assert (many[0].variation, many[0].experiment_key, many[0].experiment_variant) == (
        "on",
        "exp",
        "treatment",
    )
