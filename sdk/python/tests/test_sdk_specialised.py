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

from experimently_sdk import operators, validate_experiment_targeting
from experimently_sdk.model import NEGATIVE_TWINS, Condition
from experimently_sdk.operators import compile_condition, compile_generic
from experimently_sdk.values import parse_semver

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


# --- the specialised matchers answer their common value type themselves (the point of them)

COMMON: dict[str, list[Any]] = {
    "gt": [0, 17, 18, -EXACT, EXACT, 0.5, 17.0, math.nan, math.inf, "18", "x"],
    "gte": [17, 17.0, "17"],
    "lt": [16, 16.5, "-1"],
    "lte": [17, 18.0, "17"],
}
STRINGS = ["", "DE", "de", "42", "abc", "xabcx", "2.0.0", "v2.1.0", "1.0.0-beta.1", "u@ex.net", "10.1.2.3"]


def _raising(ctx: Any, segments: Any) -> bool:
    raise AssertionError("the generic matcher was called for a value of the common type")


@pytest.mark.parametrize("condition", CONDITIONS, ids=[f"{i}-{c.operator}" for i, c in enumerate(CONDITIONS)])
def test_specialised__common_type_answered_without_the_generic_matcher(
    condition: Condition, monkeypatch: pytest.MonkeyPatch
) -> None:
    positive = NEGATIVE_TWINS.get(condition.operator, condition.operator)
    if positive not in operators._SPECIALISED:
        pytest.skip("not specialised")
    expected = compile_generic(condition)
    monkeypatch.setattr(operators, "_wrap", lambda *args: _raising)
    specialised = compile_condition(condition)
    for value in [None, *STRINGS, *COMMON.get(str(positive), [])]:
        assert specialised({"a": value}, {}) is expected({"a": value}, {}), value
    assert specialised({}, {}) is False


def test_version_key__plain_and_full_grammar_agree() -> None:
    # the regex-free path for major.minor.patch and the full parser give the same keys
    for text in [
        "1.2.3",
        "01.2.3",
        "10.20.30",
        "1.2",
        "1.2.3.4",
        "1..3",
        "v1.2.3",
        "1.2.3-rc.1",
        "\u0661.2.3",
    ]:
        assert operators._version_key(text) == parse_semver(text), text
    assert operators._version_key("1." + "9" * 300 + ".3") is None  # longer than a version may be


def test_version_key__remembered_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operators, "_VERSIONS", {})
    monkeypatch.setattr(operators, "_VERSIONS_MAX", 3)
    for text in ["1.0.0", "2.0.0", "nope"]:
        operators._version_key(text)
    assert operators._VERSIONS == {"1.0.0": (1, 0, 0, 1, ()), "2.0.0": (2, 0, 0, 1, ()), "nope": None}
    operators._version_key("3.0.0")  # full: emptied, then the new entry
    assert operators._VERSIONS == {"3.0.0": (3, 0, 0, 1, ())}


def test_semver_matcher__reads_the_version_table(monkeypatch: pytest.MonkeyPatch) -> None:
    # a value already in the table is not parsed again (None: known not to be a version)
    monkeypatch.setattr(operators, "_VERSIONS", {"5.0.0": (1, 0, 0, 1, ()), "junk": None})
    (condition,) = validate_experiment_targeting(
        [{"attribute": "a", "operator": "semver_gte", "values": ["2.0.0"]}], {}
    )
    matcher = compile_condition(condition)
    assert matcher({"a": "5.0.0"}, {}) is False  # the table says 1.0.0
    assert matcher({"a": "junk"}, {}) is False
    assert matcher({"a": "6.0.0"}, {}) is True and operators._VERSIONS["6.0.0"] == (6, 0, 0, 1, ())


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (r"@example1\.(net|io)$", "@example1."),
        ("abc", "abc"),
        (r"a\d+bcd", "bcd"),
        ("a|b", ""),
        ("(x)yz", "yz"),
        ("^foo$", "foo"),
        ("[ab]cd", "cd"),
        (r"\u0041BC", "ABC"),
        ("ab*c", "a"),
        ("(", ""),
    ],
)
def test_required_text(pattern: str, required: str) -> None:
    assert operators._required_text(pattern) == required


def test_matches_prefilter__only_single_case_sensitive_patterns() -> None:
    def matcher(raw: dict[str, Any]) -> Any:
        (condition,) = validate_experiment_targeting([{"attribute": "a", "operator": "matches", **raw}], {})
        return compile_condition(condition)

    # the prefilter's closure holds the required text; the others do not
    def required(m: Any) -> list[Any]:
        return [c.cell_contents for c in m.__closure__ or () if c.cell_contents == "@ex.com"]

    assert required(matcher({"values": [r"@ex\.com"]})) == ["@ex.com"]
    assert required(matcher({"values": [r"@ex\.com"], "case_insensitive": True})) == []
    assert required(matcher({"values": [r"@ex\.com", "zz"]})) == []


def test_compile_generic__is_the_unspecialised_matcher() -> None:
    # the reference the differential tests compare against must not be a specialised matcher itself
    generic_code = operators._wrap("a", str.isdigit, bool, False).__code__
    for condition in CONDITIONS:
        if condition.operator not in ("exists", "not_exists", "in_segment", "not_in_segment", "contains_all"):
            assert compile_generic(condition).__code__ is generic_code, condition


@pytest.mark.parametrize("pattern", [r"ab\u{41}cd", r"ab\0cd", r"ab\N{DIGIT ONE}cd", r"\N", r"\u{1}"])
def test_required_text__escapes_read_differently_get_no_prefilter(pattern: str) -> None:
    assert operators._required_text(pattern) == ""
