"""The batch paths give exactly what one evaluation gives: ``evaluate_many`` (one flag, many contexts)
and ``evaluate_all`` (one context, every flag) against ``evaluate`` over every cross-SDK vector and the
error cases (unknown or refused flag, default of the wrong type, a context that is not a mapping, an
experiment resolver)."""

from __future__ import annotations

import gc
import json
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
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


# ----- the garbage collector is paused while a batch runs (issue #19), and only then


def _rollout_and_rules() -> Evaluator:
    """A 50/50 rollout, and rules on a set, a number, a version and a pattern; the last rule splits."""
    split = {
        "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
    }
    rules = [
        rule(
            f"r{r}",
            [
                {"attribute": "country", "operator": "in", "values": ["DE", "FR", f"X{r}"]},
                {"attribute": "age", "operator": "gt", "values": [17 + r]},
                {"attribute": "app_version", "operator": "semver_gte", "values": [f"{5 - r // 2}.0.0"]}
                if r % 2 == 0
                else {"attribute": "email", "operator": "matches", "values": [rf"@example{r}\.(net|io)$"]},
            ],
            split if r == 3 else {"variation": "on"},
        )
        for r in range(4)
    ]
    return evaluator(
        [flag(key="rollout", fallthrough=split), flag(key="rules", rules=rules, fallthrough=split)]
    )


def _users(n: int) -> list[dict[str, Any]]:
    return [
        {
            "user_id": f"user-{i}",
            "country": ["DE", "FR", "US"][i % 3],
            "age": 10 + i % 20,
            "app_version": f"{1 + i % 6}.{i % 7}.{i}",
            "email": f"p{i}@example{i % 5}.{'net' if i % 2 else 'com'}",
        }
        for i in range(n)
    ]


def test_evaluate_many__same_answers_as_evaluate_over_many_distinct_users() -> None:
    engine, users = _rollout_and_rules(), _users(3_000)
    for key in ("rollout", "rules"):
        many = engine.evaluate_many(key, users)
        single = [engine.evaluate(key, u) for u in users]
        assert many == single, key
        assert len({(r.reason, r.rule_id, r.variation) for r in many}) >= (2 if key == "rollout" else 6), key


def test_evaluate_many__collector_off_during_the_batch_and_restored_after() -> None:
    engine, seen = _rollout_and_rules(), []

    def contexts() -> Iterator[dict[str, Any]]:
        for user in _users(5):
            seen.append(gc.isenabled())
            yield user

    assert gc.isenabled()
    engine.evaluate_many("rules", contexts())
    assert seen == [False] * 5 and gc.isenabled()


def test_evaluate_many__collector_left_off_when_it_was_off() -> None:
    gc.disable()
    try:
        _rollout_and_rules().evaluate_many("rollout", _users(10))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_evaluate_many__collector_restored_when_the_contexts_raise() -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield {"user_id": "u"}
        raise RuntimeError("the caller's iterator fails")

    with pytest.raises(RuntimeError):
        _rollout_and_rules().evaluate_many("rollout", broken())
    assert gc.isenabled()


def test_evaluate_many__nested_and_concurrent_batches_restore_the_collector_once_all_end() -> None:
    engine, states = _rollout_and_rules(), []
    inner_started, outer_may_end = threading.Event(), threading.Event()

    def outer_contexts() -> Iterator[dict[str, Any]]:
        yield {"user_id": "a"}
        inner_started.wait(5)
        states.append(("outer, inner running", gc.isenabled()))
        yield {"user_id": "b"}

    def inner_contexts() -> Iterator[dict[str, Any]]:
        inner_started.set()
        outer_may_end.wait(5)
        states.append(("inner, outer ended", gc.isenabled()))
        yield {"user_id": "c"}

    def inner() -> None:
        engine.evaluate_many("rollout", inner_contexts())

    thread = threading.Thread(target=inner)
    thread.start()
    engine.evaluate_many("rollout", outer_contexts())
    states.append(("after outer, inner running", gc.isenabled()))
    outer_may_end.set()
    thread.join(5)
    assert states == [
        ("outer, inner running", False),
        ("after outer, inner running", False),
        ("inner, outer ended", False),
    ]
    assert gc.isenabled()
