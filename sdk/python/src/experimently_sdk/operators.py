"""Compile one condition into a matcher closure.

A matcher is ``match(context, segments) -> bool``; ``segments`` maps segment keys to compiled
segment matchers, so a compiled flag never embeds segment content. Everything that can be done
ahead (sets of normalised keys, thresholds, parsed versions and instants, compiled patterns,
network masks) is done here, once.
"""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .model import NEGATIVE_TWINS, Condition, Operator
from .patterns import compile_patterns
from .values import (
    MAX_VERSION_LENGTH,
    IPAddress,
    SemVerKey,
    parse_address,
    parse_instant,
    parse_network,
    parse_number,
    parse_semver,
    value_text,
)

__all__ = [
    "Matcher",
    "SegmentScope",
    "Segments",
    "compile_condition",
    "compile_conditions",
    "compile_generic",
]

Context = Mapping[str, Any]
Matcher = Callable[[Context, "Segments"], bool]
Segments = Mapping[str, Matcher]
StrTest = Callable[[str], bool]
ScalarTest = Callable[[Any], bool]

# typed=True: True, 1 and 1.0 are equal dictionary keys but different values here
_cached_semver = functools.lru_cache(maxsize=8192, typed=True)(parse_semver)
_sre_parse: Any = importlib.import_module("re._parser").parse  # for _required_text only

# versions seen (string -> key, or None when not a version): the specialised semver matchers read
# it with one dict look-up; it is emptied when it reaches _VERSIONS_MAX entries
_VERSIONS: dict[str, SemVerKey | None] = {}
_VERSIONS_MAX = 8192
_UNSEEN: Any = object()


def _version_key(value: str) -> SemVerKey | None:
    """``parse_semver(value)``, remembered; a plain ``major.minor.patch`` is read without the regex."""
    parts = value.split(".")
    if len(parts) == 3 and len(value) <= MAX_VERSION_LENGTH and value.isascii():
        major, minor, patch = parts
        if major.isdigit() and minor.isdigit() and patch.isdigit():
            key: SemVerKey | None = (int(major), int(minor), int(patch), 1, ())
        else:
            key = parse_semver(value)
    else:
        key = parse_semver(value)
    if len(_VERSIONS) >= _VERSIONS_MAX:
        _VERSIONS.clear()
    _VERSIONS[value] = key
    return key


_cached_instant = functools.lru_cache(maxsize=8192, typed=True)(parse_instant)
_cached_address = functools.lru_cache(maxsize=8192, typed=True)(parse_address)


def _never(_: Any) -> bool:
    return False


def compile_conditions(conditions: tuple[Condition, ...]) -> tuple[Matcher, ...]:
    return tuple(compile_condition(c) for c in conditions)


def compile_condition(cond: Condition) -> Matcher:
    """One condition as one closure, specialised for its operator and the common value types.

    The generic matcher (``_wrap``: absent/null, lists, strings and other scalars, then the operator's
    typed test) defines the semantics. For the operators on the hot path a specialised matcher is
    built that answers the common case itself, with the test inlined (a string in a set, a number
    against a threshold, a version against a bound, a pattern search), and hands every other value
    to the generic matcher: one Python call per condition instead of three.
    """
    op = cond.operator
    positive = NEGATIVE_TWINS.get(op, op)
    invert = cond.negate is not (positive is not op)  # negate XOR negative operator
    if positive == Operator.EXISTS:
        return _exists(cond.attribute, invert)
    if positive == Operator.IN_SEGMENT:
        return _in_segment(tuple(cond.values), invert)
    if positive == Operator.CONTAINS_ALL:
        return _contains_all(cond, invert)
    str_test, scalar_test = _TESTS[positive](cond)
    generic = _wrap(cond.attribute, str_test, scalar_test, invert)
    specialise = _SPECIALISED.get(positive)
    if specialise is None:
        return generic
    return specialise(cond, str_test, invert, generic)


def compile_generic(cond: Condition) -> Matcher:
    """The generic matcher of ``cond`` (no specialisation): the reference the specialised matchers
    are tested against."""
    op = cond.operator
    positive = NEGATIVE_TWINS.get(op, op)
    if positive in (Operator.EXISTS, Operator.IN_SEGMENT, Operator.CONTAINS_ALL):
        return compile_condition(cond)
    str_test, scalar_test = _TESTS[positive](cond)
    return _wrap(cond.attribute, str_test, scalar_test, cond.negate is not (positive is not op))


def _wrap(attribute: str, str_test: StrTest, scalar_test: ScalarTest, invert: bool) -> Matcher:
    """Absent/null -> False; lists -> ANY non-null element; then invert (negate / negative twin)."""

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if value is None:
            return False
        if type(value) is str:
            return str_test(value) is not invert
        if type(value) is list or type(value) is tuple:
            for element in value:
                if element is not None and (
                    str_test(element) if type(element) is str else scalar_test(element)
                ):
                    return not invert
            return invert
        return scalar_test(value) is not invert

    return match


# ---------------------------------------------------------------------------------------------
# specialised matchers: the common value type answered inline, anything else -> ``generic``

Specialise = Callable[[Condition, StrTest, bool, Matcher], Matcher]


def _strings(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """A string value runs the operator's string test directly (one call less)."""
    attribute = cond.attribute

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if type(value) is str:
            return str_test(value) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return match


def _equality_specialised(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """``eq``/``in``/``contains_any`` whose values are all strings, case-sensitive: a string value is
    one set look-up (a numeric string value equals a numeric string only as text, see _equality)."""
    if cond.case_insensitive or any(type(v) is not str for v in cond.values):
        return _strings(cond, str_test, invert, generic)
    attribute = cond.attribute
    texts = frozenset(cond.values)

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if type(value) is str:
            return (value in texts) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return match


# an int within +-2**53 is exactly the double it denotes, so comparing it as is equals comparing
# float(value); beyond, the generic path rounds it as JSON and JavaScript do
_EXACT_INT = 2**53
_COMPARE: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.GT: operator.gt,
    Operator.GTE: operator.ge,
    Operator.LT: operator.lt,
    Operator.LTE: operator.le,
    Operator.SEMVER_GT: operator.gt,
    Operator.SEMVER_GTE: operator.ge,
    Operator.SEMVER_LT: operator.lt,
    Operator.SEMVER_LTE: operator.le,
}


def _numeric_specialised(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """``gt``/``gte``/``lt``/``lte``: an int or float value is compared with the threshold inline."""
    attribute = cond.attribute
    threshold = _threshold(cond)
    compare = _COMPARE[cond.operator]
    low, high = -_EXACT_INT, _EXACT_INT

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if (type(value) is int and low <= value <= high) or type(value) is float:
            return compare(value, threshold) is not invert
        if type(value) is str:
            return str_test(value) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return match


def _semver_specialised(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """``semver_gt``/``gte``/``lt``/``lte``: a string value's key is looked up (parsed once, see
    ``_version_key``) and compared with the bound inline."""
    if cond.operator == Operator.SEMVER_EQ:
        return _strings(cond, str_test, invert, generic)
    attribute = cond.attribute
    bound = _version_bound(cond)
    compare = _COMPARE[cond.operator]
    known = _VERSIONS.get
    unseen = _UNSEEN

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if type(value) is str:
            key = known(value, unseen)
            if key is unseen:
                key = _version_key(value)
            return (key is not None and compare(key, bound)) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return match


def _text_specialised(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """``starts_with``/``ends_with``/``contains`` (case-sensitive): the string method inline."""
    if cond.case_insensitive:
        return _strings(cond, str_test, invert, generic)
    attribute = cond.attribute
    needles: tuple[str, ...] = cond.values
    op = NEGATIVE_TWINS.get(cond.operator, cond.operator)  # not_contains: contains, inverted
    if op == Operator.CONTAINS:
        if len(needles) != 1:
            return _strings(cond, str_test, invert, generic)
        needle = needles[0]

        def contains(ctx: Context, segments: Segments) -> bool:
            value = ctx.get(attribute)
            if type(value) is str:
                return (needle in value) is not invert
            if value is None:
                return False
            return generic(ctx, segments)

        return contains
    method = str.startswith if op == Operator.STARTS_WITH else str.endswith

    def affix(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if type(value) is str:
            return method(value, needles) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return affix


def _exists(attribute: str, invert: bool) -> Matcher:
    def match(ctx: Context, segments: Segments) -> bool:
        return (ctx.get(attribute) is not None) is not invert

    return match


def _in_segment(keys: tuple[str, ...], invert: bool) -> Matcher:
    def match(ctx: Context, segments: Segments) -> bool:
        scope = segments if type(segments) is SegmentScope else SegmentScope(segments)
        for key in keys:
            if scope.member(key, ctx):
                return not invert
        return invert

    return match


class SegmentScope(Mapping[str, Matcher]):
    """The segments seen by one evaluation: each segment's membership is computed at most once.

    Segments that share sub-segments (a diamond) would otherwise repeat work exponentially in the
    nesting depth. The scope is made per evaluation, never shared between contexts.
    """

    __slots__ = ("_matchers", "_memo")

    def __init__(self, matchers: Segments) -> None:
        self._matchers = matchers
        self._memo: dict[str, bool] = {}

    def member(self, key: str, ctx: Context) -> bool:
        known = self._memo.get(key)
        if known is not None:
            return known
        matcher = self._matchers.get(key)
        result = matcher is not None and matcher(ctx, self)
        self._memo[key] = result
        return result

    def __getitem__(self, key: str) -> Matcher:
        return self._matchers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._matchers)

    def __len__(self) -> int:
        return len(self._matchers)


# ---------------------------------------------------------------------------------------------
# equality (eq, in, contains_any, contains_all elements)


def _equality(values: tuple[Any, ...], ci: bool) -> tuple[StrTest, ScalarTest]:
    texts: set[str] = set()
    numbers: set[float] = set()  # number values: equal to numbers and numeric strings
    all_numbers: set[float] = set()  # number values and numeric-string values: equal to numbers
    booleans: set[bool] = set()
    for value in values:
        if type(value) is bool:
            booleans.add(value)
            texts.add("true" if value else "false")
            continue
        number = parse_number(value)
        if type(value) is str:
            key = value.casefold() if ci else value
            texts.add(key)
            if key in ("true", "false"):
                booleans.add(key == "true")
        elif number is not None:
            numbers.add(number)
        if number is not None:
            all_numbers.add(number)
    return _equality_str_test(frozenset(texts), frozenset(numbers), ci), _equality_scalar_test(
        frozenset(all_numbers), frozenset(booleans)
    )


def _equality_str_test(texts: frozenset[str], numbers: frozenset[float], ci: bool) -> StrTest:
    if not numbers and not ci:
        return texts.__contains__
    if not numbers:
        return lambda a: a.casefold() in texts
    if not ci:
        return lambda a: a in texts or parse_number(a) in numbers
    return lambda a: a.casefold() in texts or parse_number(a) in numbers


def _equality_scalar_test(numbers: frozenset[float], booleans: frozenset[bool]) -> ScalarTest:
    def test(value: Any) -> bool:
        if type(value) is bool:
            return value in booleans
        if type(value) is int or type(value) is float:
            return parse_number(value) in numbers
        return False

    return test


def _eq_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    return _equality(cond.values, cond.case_insensitive)


def _contains_all(cond: Condition, invert: bool) -> Matcher:
    tests = [_equality((value,), cond.case_insensitive) for value in cond.values]
    attribute = cond.attribute

    def element_matches(elements: list[Any], str_test: StrTest, scalar_test: ScalarTest) -> bool:
        return any(str_test(e) if type(e) is str else scalar_test(e) for e in elements)

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if value is None:
            return False
        elements = [e for e in value if e is not None] if type(value) in (list, tuple) else [value]
        return all(element_matches(elements, s, o) for s, o in tests) is not invert

    return match


# ---------------------------------------------------------------------------------------------
# numbers


def _threshold(cond: Condition) -> float:
    """ANY value: a > some v  <=>  a > min(values); a < some v  <=>  a < max(values)."""
    numbers = [n for n in (parse_number(v) for v in cond.values) if n is not None]
    return min(numbers) if cond.operator in (Operator.GT, Operator.GTE) else max(numbers)


def _numeric_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    threshold = _threshold(cond)
    op = cond.operator
    if op == Operator.GT:
        compare: Callable[[float], bool] = lambda n: n > threshold  # noqa: E731
    elif op == Operator.GTE:
        compare = lambda n: n >= threshold  # noqa: E731
    elif op == Operator.LT:
        compare = lambda n: n < threshold  # noqa: E731
    else:
        compare = lambda n: n <= threshold  # noqa: E731

    def str_test(a: str) -> bool:
        n = parse_number(a)
        return n is not None and compare(n)

    def scalar_test(a: Any) -> bool:
        if type(a) is float:
            return compare(a)
        if type(a) is int:  # compared as the IEEE double it denotes (as JSON and JavaScript read it)
            number = parse_number(a)
            return number is not None and compare(number)
        return False

    return str_test, scalar_test


# ---------------------------------------------------------------------------------------------
# text


def _text_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    ci = cond.case_insensitive
    needles = tuple(v.casefold() if ci else v for v in cond.values)
    op = cond.operator
    if op == Operator.STARTS_WITH:
        base: StrTest = lambda a: a.startswith(needles)  # noqa: E731
    elif op == Operator.ENDS_WITH:
        base = lambda a: a.endswith(needles)  # noqa: E731
    elif len(needles) == 1:
        needle = needles[0]
        base = lambda a: needle in a  # noqa: E731
    else:
        base = lambda a: any(n in a for n in needles)  # noqa: E731
    str_test: StrTest = (lambda a: base(a.casefold())) if ci else base
    return str_test, _via_text(str_test)


def _via_text(str_test: StrTest) -> ScalarTest:
    def scalar_test(value: Any) -> bool:
        text = value_text(value)
        return text is not None and str_test(text)

    return scalar_test


def _matches_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    str_test = compile_patterns(tuple(cond.values), case_insensitive=cond.case_insensitive)
    return str_test, _via_text(str_test)


# ---------------------------------------------------------------------------------------------
# versions, instants, networks


def _version_bound(cond: Condition) -> SemVerKey:
    """ANY value, as for numbers: the lowest version for gt/gte, the highest for lt/lte."""
    keys = [k for k in (parse_semver(v) for v in cond.values) if k is not None]
    return min(keys) if cond.operator in (Operator.SEMVER_GT, Operator.SEMVER_GTE) else max(keys)


def _semver_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    keys = [k for k in (parse_semver(v) for v in cond.values) if k is not None]
    op = cond.operator
    if op == Operator.SEMVER_EQ:
        key_set = frozenset(keys)
        return (lambda a: _cached_semver(a) in key_set), _never
    bound = _version_bound(cond)
    compare_bound = _COMPARE[op]

    def compare(key: SemVerKey) -> bool:
        return compare_bound(key, bound)

    def str_test(a: str) -> bool:
        key = _cached_semver(a)
        return key is not None and compare(key)

    return str_test, _never  # versions are strings: numbers are not versions


def _date_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    instants = [i for i in (parse_instant(v) for v in cond.values) if i is not None]
    if cond.operator == Operator.AFTER:
        low = min(instants)
        compare: Callable[[Any], bool] = lambda i: i > low  # noqa: E731
    else:
        high = max(instants)
        compare = lambda i: i < high  # noqa: E731

    def str_test(a: str) -> bool:
        instant = _cached_instant(a)
        return instant is not None and compare(instant)

    def scalar_test(a: Any) -> bool:
        if type(a) is not int and type(a) is not float:
            return False  # booleans, objects, nested lists: not dates, no match
        instant = _cached_instant(a)
        return instant is not None and compare(instant)

    return str_test, scalar_test


def _cidr_tests(cond: Condition) -> tuple[StrTest, ScalarTest]:
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for value in cond.values:
        network = parse_network(value)
        if not isinstance(network, str):
            target = v4 if network.version == 4 else v6
            target.append((int(network.network_address), int(network.netmask)))
    v4_nets, v6_nets = tuple(v4), tuple(v6)

    def contains(address: IPAddress) -> bool:
        nets = v4_nets if address.version == 4 else v6_nets
        number = int(address)
        return any(number & mask == net for net, mask in nets)

    def str_test(a: str) -> bool:
        address = _cached_address(a)
        if address is None:
            return False
        if contains(address):
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        return mapped is not None and contains(mapped)

    return str_test, _never


_TESTS: dict[Operator, Callable[[Condition], tuple[StrTest, ScalarTest]]] = {
    Operator.EQ: _eq_tests,
    Operator.IN: _eq_tests,
    Operator.CONTAINS_ANY: _eq_tests,  # ANY element equals ANY value: exactly `in` on lists
    Operator.GT: _numeric_tests,
    Operator.GTE: _numeric_tests,
    Operator.LT: _numeric_tests,
    Operator.LTE: _numeric_tests,
    Operator.CONTAINS: _text_tests,
    Operator.STARTS_WITH: _text_tests,
    Operator.ENDS_WITH: _text_tests,
    Operator.MATCHES: _matches_tests,
    Operator.SEMVER_EQ: _semver_tests,
    Operator.SEMVER_GT: _semver_tests,
    Operator.SEMVER_GTE: _semver_tests,
    Operator.SEMVER_LT: _semver_tests,
    Operator.SEMVER_LTE: _semver_tests,
    Operator.BEFORE: _date_tests,
    Operator.AFTER: _date_tests,
    Operator.IN_CIDR: _cidr_tests,
}


def _matches_specialised(cond: Condition, str_test: StrTest, invert: bool, generic: Matcher) -> Matcher:
    """``matches`` with one case-sensitive pattern that requires a text (``@example\\.com$``
    requires ``@example.com``): a string value without that text cannot match, and is answered with
    a substring test before the regular-expression engine is called."""
    required = _required_text(cond.values[0]) if len(cond.values) == 1 and not cond.case_insensitive else ""
    if not required:
        return _strings(cond, str_test, invert, generic)
    attribute = cond.attribute

    def match(ctx: Context, segments: Segments) -> bool:
        value = ctx.get(attribute)
        if type(value) is str:
            return (required in value and str_test(value)) is not invert
        if value is None:
            return False
        return generic(ctx, segments)

    return match


def _required_text(pattern: str) -> str:
    """The longest run of literal characters at the top level of ``pattern`` ("" if none).

    Every match contains it: the run is a sequence of plain characters outside any group,
    alternation, class or repetition. Read with Python's own pattern parser; a pattern it reads
    differently from the ``matches`` dialect (or cannot read) gets no prefilter: ``\\N``, ``\\u{``
    and legacy octal escapes are left to the regular-expression engine alone.
    """
    if "\\N" in pattern or "\\u{" in pattern or "\\0" in pattern:
        return ""
    try:
        nodes = list(_sre_parse(pattern))
    except Exception:
        return ""
    best = run = ""
    for kind, argument in nodes:
        if str(kind) == "LITERAL":
            run += chr(argument)
            if len(run) > len(best):
                best = run
        else:
            run = ""
    return best


_SPECIALISED: dict[Operator, Specialise] = {
    Operator.EQ: _equality_specialised,
    Operator.IN: _equality_specialised,
    Operator.CONTAINS_ANY: _equality_specialised,
    Operator.GT: _numeric_specialised,
    Operator.GTE: _numeric_specialised,
    Operator.LT: _numeric_specialised,
    Operator.LTE: _numeric_specialised,
    Operator.CONTAINS: _text_specialised,
    Operator.STARTS_WITH: _text_specialised,
    Operator.ENDS_WITH: _text_specialised,
    Operator.MATCHES: _matches_specialised,
    Operator.SEMVER_EQ: _semver_specialised,
    Operator.SEMVER_GT: _semver_specialised,
    Operator.SEMVER_GTE: _semver_specialised,
    Operator.SEMVER_LT: _semver_specialised,
    Operator.SEMVER_LTE: _semver_specialised,
    Operator.BEFORE: _strings,
    Operator.AFTER: _strings,
    Operator.IN_CIDR: _strings,
}
