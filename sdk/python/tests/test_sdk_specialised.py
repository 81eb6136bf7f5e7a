"""Differential tests: every specialised matcher answers exactly as the generic one.

``compile_condition`` builds, for the operators on the hot path, a matcher that answers the common
value type inline and hands every other value to the generic matcher (``compile_generic``, which
defines the semantics). Here both run on a grid of conditions (every specialised operator, its
negative twin, ``negate``, ``case_insensitive``, several value sets) against values of every type,
including the corners of the fast paths (integers around 2**53, huge integers, NaN, -0.0, booleans,
lists, numeric and non-numeric strings), and then on random values.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experimently_sdk import validate_experiment_targeting
from experimently_sdk.model import Condition
from experimently_sdk.operators import compile_condition, compile_generic

EXACT = 2**53
VALUE_SETS: dict[str, list[list[Any]]] = {
    "eq": [["DE"], ["42"], [42], ["true"], [True], ["DE", "FR", "abc"], [""]],
    "neq": [["DE"], [42], ["42"]],
    "in": [["DE", "FR"], ["42", "x"], [1, "DE"], [False, "y"], ["ABC", "straße"]],
    "not_in": [["DE", "FR"], [42, "DE"]],
    "contains_any": [["DE", "FR"], [42]],
    "gt": [[17], [17.5], [-1, 5], [EXACT], [-EXACT], ["1e3"], [0]],
    "gte": [[17], [EXACT]],
    "lt": [[17], [0.5, 3], [-EXACT]],
    "lte": [[17], [EXACT]],
    "contains": [["b"], ["ab", "zz"], ["42"], ["ß"]],
    "not_contains": [["b"], ["ab", "zz"]],
    "starts_with": [["a"], ["ab", "x"], ["4"]],
    "ends_with": [["c"], ["bc", "x"], ["0"]],
    "matches": [
        ["^a"],
        ["b|x", "^4"],
        [r"\d+"],
        [r"@ex\.(net|io)$"],
        ["abc"],
        [r"a\d+bc"],
        [r"^x.y$"],
        [r"\bab"],
        [r"\u0061b"],
        [r"ab|cd"],
        ["(a)bc"],
        [r"\x61b"],
    ],
    "semver_eq": [["2.0.0"], ["1.0.0", "2.1.0-beta.1"]],
    "semver_gt": [["2.0.0"], ["1.0.0", "3.0.0"]],
    "semver_gte": [["2.0.0"], ["2.1.0-beta.1"]],
    "semver_lt": [["2.0.0"], ["1.0.0", "3.0.0"]],
    "semver_lte": [["2.0.0"]],
    "before": [["2026-01-01T00:00:00Z"], [1700000000]],
    "after": [["2026-01-01"], [0]],
    "in_cidr": [["10.0.0.0/8"], ["10.0.0.0/8", "2001:db8::/32"]],
}
RAW_CONDITIONS: list[dict[str, Any]] = []
for op, value_sets in VALUE_SETS.items():
    for values in value_sets:
        for negate in (False, True):
            RAW_CONDITIONS.append({"attribute": "a", "operator": op, "values": values, "negate": negate})
            if op in {"eq", "neq", "in", "not_in", "contains_any", "contains", "starts_with", "matches"}:
                RAW_CONDITIONS.append(
                    {
                        "attribute": "a",
                        "operator": op,
                        "values": values,
                        "negate": negate,
                        "case_insensitive": True,
                    }
                )

SCALARS: list[Any] = [
    "",
    "DE",
    "de",
    "FR",
    "abc",
    "ABC",
    "xabcx",
    "u@ex.net",
    "u@ex.io",
    "u@ex.com",
    "@ex.nett",
    "a12bc",
    "xzy",
    "x\ny",
    "42",
    " 42 ",
    "42.0",
    "1e3",
    "-1",
    "17.5",
    "true",
    "false",
    "STRASSE",
    "straße",
    "\ud800",
    "2.0.0",
    "v2.1.0",
    "2.1.0-beta.1",
    "3.0.0+build",
    "not a version",
    "10.1.2.3",
    "::ffff:10.0.0.1",
    "2001:db8::1",
    "2026-01-01T00:00:00Z",
    "2025-12-31",
    "1700000001",
    0,
    1,
    16,
    17,
    18,
    42,
    -1,
    -5,
    1000,
    EXACT - 1,
    EXACT,
    EXACT + 1,
    -EXACT,
    -EXACT - 1,
    10**400,
    -(10**400),
    0.5,
    17.0,
    17.5,
    42.0,
    -0.0,
    float(EXACT),
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
]
VALUES: list[Any] = [
    None,
    *SCALARS,
    [],
    ["DE"],
    ["x", None, "FR"],
    [None],
    [42, "abc"],
    [17.5, True],
    ["2.0.0", "1.0.0"],
    ("DE", 18),
    [[1, 2]],
    {"k": "v"},
]


def _conditions() -> list[Condition]:
    return list(validate_experiment_targeting(RAW_CONDITIONS, {}))


CONDITIONS = _conditions()


def _answer(condition: Condition, generic: bool, context: dict[str, Any]) -> Any:
    matcher = compile_generic(condition) if generic else compile_condition(condition)
    try:
        return matcher(context, {})
    except Exception as exc:  # both must fail the same way (they never do today)
        return type(exc)


def test_grid_is_complete() -> None:
    # every raw condition parsed (a refused one would shrink the grid silently)
    assert len(CONDITIONS) == len(RAW_CONDITIONS) > 150


# plain ids (operator and position): pytest node ids must survive a command line
@pytest.mark.parametrize("condition", CONDITIONS, ids=[f"{i}-{c.operator}" for i, c in enumerate(CONDITIONS)])
def test_specialised__equals_generic__on_every_value(condition: Condition) -> None:
    for value in VALUES:
        for context in ({"a": value}, {"b": value}):
            specialised = _answer(condition, False, context)
            expected = _answer(condition, True, context)
            assert specialised == expected, (value, specialised, expected)
            assert type(specialised) is bool, (value, specialised)


def test_absent_attribute__false_whatever_the_operator() -> None:
    for condition in CONDITIONS:
        assert compile_condition(condition)({}, {}) is False


random_values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.text(alphabet="abcxy@.netio1\n", max_size=10),
    st.from_regex(r"[vV]?[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-[a-z0-9.]{1,6})?", fullmatch=True),
    st.from_regex(r" ?[+-]?[0-9]{1,20}(\.[0-9]*)?([eE][+-]?[0-9]{1,3})? ?", fullmatch=True),
    st.integers(),
    st.integers(min_value=EXACT - 4, max_value=EXACT + 4),
    st.integers(min_value=-EXACT - 4, max_value=-EXACT + 4),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers(), st.floats()), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(value=random_values)
def test_specialised__equals_generic__on_random_values(value: Any) -> None:
    context = {"a": value}
    for condition in CONDITIONS:
        assert _answer(condition, False, context) == _answer(condition, True, context), condition
