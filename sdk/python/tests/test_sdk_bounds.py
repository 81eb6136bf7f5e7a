"""Bounded evaluation cost: patterns, dates, versions, segment nesting and sharing.

Work is measured deterministically, never with a clock: RE2 program sizes (a search costs
O(program size x value length)), the size of parsed values, context lookups and Python opcodes
executed per evaluation. Wall-clock figures live in bench/eval_adversarial.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_helpers import cond, evaluator, flag, rule

from experimently_sdk import Evaluator, Reason, Ruleset, RuleValidationError, validate_flag, validate_segment
from experimently_sdk.conditions import MAX_SEGMENT_DEPTH
from experimently_sdk.patterns import MAX_PROGRAM_SIZE, MAX_VALUE_LENGTH, check_pattern, program_size
from experimently_sdk.values import MAX_INSTANT_LENGTH, parse_instant, parse_semver

OPCODE_BUDGET = 3_000  # Python opcodes one evaluation of a one-condition flag may execute


class CountingContext(Mapping[str, Any]):
    """A context that counts attribute lookups (the engine's unit of work per condition)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.lookups = 0

    def __getitem__(self, key: str) -> Any:
        self.lookups += 1
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def opcodes(fn: Callable[[], Any]) -> int:
    """Python opcodes executed by ``fn`` (C-level work is bounded separately)."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(previous)
    return count


# ---------------------------------------------------------------------------------------------
# adversarial patterns

_ATOMS = st.sampled_from(["a", "\\w", "\\s", "\\d", ".", "[a-z]", "[^!]", "\\S", "x", "(?:a|aa)", "\\b"])
_QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "*?", "{2,5}", "{0,30}", "{1,}", "{100}"])


def _pattern(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    group = st.tuples(st.lists(children, min_size=1, max_size=3), _QUANTIFIERS, st.booleans()).map(
        lambda t: ("(" if t[2] else "(?:") + "".join(t[0]) + ")" + t[1]
    )
    alternation = st.lists(children, min_size=2, max_size=3).map(lambda parts: "(?:" + "|".join(parts) + ")")
    return group | alternation


PATTERNS = st.tuples(
    st.booleans(),
    st.recursive(st.tuples(_ATOMS, _QUANTIFIERS).map("".join), _pattern, max_leaves=12),
    st.booleans(),
).map(lambda t: ("^" if t[0] else "") + t[1] + ("$" if t[2] else ""))
VALUES = st.tuples(st.sampled_from(["a", "ab", "a ", "x!", "é", "aa\n", "\u2028"]), st.integers(0, 4096)).map(
    lambda t: (t[0] * t[1])[: t[1]] + "!"
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=PATTERNS, value=VALUES, ci=st.booleans())
def test_matches__adversarial_pattern__bounded_work(pattern: str, value: str, ci: bool) -> None:
    # Given any pattern the save-time check accepts
    if len(pattern) > 256 or check_pattern(pattern, case_insensitive=ci) is not None:
        return
    # Then its RE2 program is bounded (a search costs O(program size x value length))
    assert program_size(pattern, case_insensitive=ci) <= MAX_PROGRAM_SIZE
    data = flag(rules=[rule("r", [cond("a", "matches", [pattern], case_insensitive=ci)])])
    engine = evaluator([data])
    context = CountingContext({"a": value})
    # When evaluated against a value of up to 4,096 characters
    result: list[Any] = []
    work = opcodes(lambda: result.append(engine.evaluate("f", context)))
    # Then the evaluation ends normally, with bounded work
    assert result[0].reason in (Reason.TARGETING_MATCH, Reason.DEFAULT)
    assert work <= OPCODE_BUDGET
    assert context.lookups == 1


@pytest.mark.parametrize(
    "pattern", ["^(a+)+$", "(\\w+\\s?)+$", "(.*a){20}$", "(a|aa)+$", "((a*)*)*b", "(x+x+)+y"]
)
def test_matches__catastrophic_backtracking_patterns__accepted_and_bounded(pattern: str) -> None:
    # Given the patterns that stall a backtracking engine
    assert check_pattern(pattern) is None
    assert program_size(pattern) <= MAX_PROGRAM_SIZE
    engine = evaluator([flag(rules=[rule("r", [cond("a", "matches", [pattern])])])])
    # When evaluated on the 4,096-character worst case, Then the answer comes and is "no match"
    value = "a" * (MAX_VALUE_LENGTH - 1) + "!"
    assert engine.evaluate("f", {"a": value}).variation == "off"
    assert opcodes(lambda: engine.evaluate("f", {"a": value})) <= OPCODE_BUDGET


def test_check_pattern__program_too_large__refused_with_reason() -> None:
    assert "too large" in (check_pattern("(?:.{0,10}a){10}") or "")
    assert "lookahead" in (check_pattern("^(?=.*\\d)\\w+$") or "")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(ab", "invalid pattern: a '(' is never closed"),
        ("a(?:b|c", "invalid pattern: a '(' is never closed"),
        ("a)", "invalid pattern: a ')' has no '(' before it"),
        ("*a", "invalid pattern: '*' has nothing before it to repeat"),
        ("a**", "invalid pattern: '**' repeats a repetition"),
        (
            "a{2,1}",
            "invalid pattern: repetition {2,1} is invalid (at most 1000, and in {n,m} n may not exceed m)",
        ),
        (
            "x{1001}",
            "invalid pattern: repetition {1001} is invalid (at most 1000, and in {n,m} n may not exceed m)",
        ),
        ("[z-a]", "invalid pattern: character class range z-a is out of order"),
    ],
)
def test_check_pattern__refused_in_the_authors_words(pattern: str, reason: str) -> None:
    # RE2 said "missing ): (?:(ab)", quoting our translation of the pattern, not the author's text
    assert check_pattern(pattern) == reason


def test_check_pattern__too_large_only_case_insensitive__refused_at_save_time_with_path() -> None:
    # Given a pattern that fits case-sensitively but not folded (classes of letters double)
    pattern = "(?:\\W*\\w){60}!$"
    assert check_pattern(pattern) is None
    assert check_pattern(pattern, case_insensitive=True) is not None
    # When saved with case_insensitive, Then it is refused with the condition's path
    data = flag(rules=[rule("r", [cond("a", "matches", [pattern], case_insensitive=True)])])
    with pytest.raises(RuleValidationError) as info:
        validate_flag(data, segments={})
    assert info.value.errors[0][0] == "rules[0].conditions[0].values"


def test_matches__lone_surrogate_value__no_match_not_error() -> None:
    engine = evaluator([flag(rules=[rule("r", [cond("a", "matches", ["a"])])])])
    result = engine.evaluate("f", {"a": "a\ud800"})
    assert (result.reason, result.variation) == (Reason.DEFAULT, "off")


# ---------------------------------------------------------------------------------------------
# dates and numbers

DATE_TEXTS = st.one_of(
    st.tuples(
        st.sampled_from(["", "-", "+", " "]),
        st.sampled_from(["1", "0", "9" * 60, ".5", "5."]),
        st.sampled_from(["e", "E"]),
        st.sampled_from(["-", "+", ""]),
        st.integers(0, 10**12),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}{t[3]}{t[4]}"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,3000}Z\Z"),
    st.text(alphabet="0123456789eE+-.: TZ", max_size=200),
)


@settings(max_examples=200, deadline=None)
@given(text=DATE_TEXTS, operator=st.sampled_from(["before", "after"]))
def test_dates__adversarial_text__bounded_parse_and_evaluation(text: str, operator: str) -> None:
    # When any text is read as an instant
    instant = parse_instant(text)
    # Then it is refused or held in bounded size (digits never expanded from the exponent)
    if instant is not None:
        assert isinstance(instant, Decimal)
        assert len(instant.as_tuple().digits) <= MAX_INSTANT_LENGTH + 20
    engine = evaluator([flag(rules=[rule("r", [cond("a", operator, ["2024-01-01"])])])])
    result: list[Any] = []
    assert opcodes(lambda: result.append(engine.evaluate("f", {"a": text}))) <= OPCODE_BUDGET
    assert result[0].reason in (Reason.TARGETING_MATCH, Reason.DEFAULT)


def test_after__tiny_exponent__exact_and_bounded() -> None:
    # Given the 14-character text that took 16 s to read as a fraction
    assert parse_instant("1e-10000000") == Decimal("1e-10000000")
    engine = evaluator([flag(rules=[rule("r", [cond("a", "after", [0])])])])
    # Then it is an instant just after the epoch
    assert engine.evaluate("f", {"a": "1e-10000000"}).variation == "on"
    assert engine.evaluate("f", {"a": "-1e-10000000"}).variation == "off"


def test_after__date_value_too_long__refused_at_save_time_with_path() -> None:
    data = flag(rules=[rule("r", [cond("a", "after", ["0" * 65])])])
    with pytest.raises(RuleValidationError) as info:
        validate_flag(data, segments={})
    assert info.value.errors == [
        ("rules[0].conditions[0].values", f"values[0]: a date is at most {MAX_INSTANT_LENGTH} characters")
    ]


# ---------------------------------------------------------------------------------------------
# versions


def test_semver__4300_digit_part__refused_at_save_time_with_path() -> None:
    # Given a version part past the interpreter's 4,300-digit limit on integer text
    data = flag(rules=[rule("r", [cond("a", "semver_gt", ["1." + "9" * 4300])])])
    # When saved, Then it is refused with a path (no bare ValueError)
    with pytest.raises(RuleValidationError) as info:
        validate_flag(data, segments={})
    assert info.value.errors == [
        ("rules[0].conditions[0].values", "values[0]: a version is at most 256 characters")
    ]


def test_semver__4300_digit_attribute__no_match() -> None:
    assert parse_semver("9" * 5000) is None
    engine = evaluator([flag(rules=[rule("r", [cond("a", "semver_gt", ["1.0.0"])])])])
    assert engine.evaluate("f", {"a": "9" * 5000}).reason == Reason.DEFAULT


# ---------------------------------------------------------------------------------------------
# segments: depth bounded at save time, membership memoised per evaluation


def _diamond(depth: int) -> list[dict[str, Any]]:
    """s0 refers to l1 and r1, each of which refers to both l2 and r2, ... down to the leaves."""
    segments: list[dict[str, Any]] = []
    for level in range(depth, 0, -1):
        if level == depth:
            conditions = [cond("plan", "eq", ["pro"])]
        else:
            conditions = [
                cond("", "in_segment", [f"l{level + 1}"]),
                cond("", "in_segment", [f"r{level + 1}"]),
            ]
        segments.extend({"key": f"{side}{level}", "conditions": conditions} for side in "lr")
    segments.append(
        {"key": "s0", "conditions": [cond("", "in_segment", ["l1"]), cond("", "in_segment", ["r1"])]}
    )
    return segments


def test_in_segment__shared_sub_segments__each_computed_once() -> None:
    # Given 15 levels of segments that all share their sub-segments (2^15 paths)
    segments = _diamond(MAX_SEGMENT_DEPTH - 1)
    engine = evaluator([flag(rules=[rule("r", [cond("", "in_segment", ["s0"])])])], segments)
    context = CountingContext({"plan": "pro"})
    # When evaluated
    result = engine.evaluate("f", context)
    # Then it matches, and the leaf condition was read once per leaf segment, not once per path
    assert result.variation == "on"
    assert context.lookups == 2


def _chain(length: int) -> list[dict[str, Any]]:
    segments = [{"key": "c0", "conditions": [cond("plan", "eq", ["pro"])]}]
    segments.extend(
        {"key": f"c{i}", "conditions": [cond("", "in_segment", [f"c{i - 1}"])]} for i in range(1, length)
    )
    return segments


def test_validate_segment__nesting_past_bound__refused_with_path() -> None:
    # Given a chain of MAX_SEGMENT_DEPTH segments
    existing = {s["key"]: s for s in _chain(MAX_SEGMENT_DEPTH)}
    top = f"c{MAX_SEGMENT_DEPTH - 1}"
    # When one more level is saved, Then it is refused with the reference's path
    with pytest.raises(RuleValidationError) as info:
        validate_segment({"key": "deeper", "conditions": [cond("", "in_segment", [top])]}, segments=existing)
    path, message = info.value.errors[0]
    assert path == "conditions[0].values"
    assert message.startswith(f"segments nest more than {MAX_SEGMENT_DEPTH} levels deep: deeper -> {top}")
    # And at the bound it is accepted
    validate_segment(
        {"key": "ok", "conditions": [cond("", "in_segment", [f"c{MAX_SEGMENT_DEPTH - 2}"])]},
        segments=existing,
    )


def test_validate_segment__edit_that_deepens_referrers__refused() -> None:
    # Given a full-depth chain whose bottom segment c0 has no reference
    existing = {s["key"]: s for s in _chain(MAX_SEGMENT_DEPTH)}
    existing["leaf"] = {"key": "leaf", "conditions": []}
    # When c0 is edited to refer to another segment, Then the chain above it would be too deep
    with pytest.raises(RuleValidationError) as info:
        validate_segment({"key": "c0", "conditions": [cond("", "in_segment", ["leaf"])]}, segments=existing)
    assert "would nest more than" in info.value.errors[0][1]


def test_ruleset__chain_of_600_segments__refused_without_recursion_error() -> None:
    # Given a payload (from any source) with a 600-deep chain, When loaded
    segments = _chain(600)
    flags = [
        flag(key="deep", rules=[rule("r", [cond("", "in_segment", ["c599"])])]),
        flag(key="shallow", rules=[rule("r", [cond("", "in_segment", ["c10"])])]),
    ]
    ruleset = Ruleset.from_payload({"flags": flags, "segments": segments})
    # Then the over-deep segments (and the flag using one) are refused, the rest evaluates
    assert "c599" in ruleset.segment_errors
    assert "c10" not in ruleset.segment_errors
    assert "deep" in ruleset.errors
    engine = Evaluator(ruleset)
    assert engine.evaluate("shallow", {"plan": "pro"}).variation == "on"
    assert engine.evaluate("deep", {"plan": "pro"}).error_code == "PARSE_ERROR"
