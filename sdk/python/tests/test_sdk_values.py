"""Value interpretation: JS number text, numeric strings, versions, instants, networks, patterns."""

from __future__ import annotations

from fractions import Fraction

import pytest

from experimently_sdk.patterns import check_pattern
from experimently_sdk.values import js_number_text, parse_instant, parse_network, parse_number, parse_semver


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (42, "42"),
        (42.0, "42"),
        (100.0, "100"),
        (4.5, "4.5"),
        (-0.0, "0"),
        (-4.5, "-4.5"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5e21, "1.5e+21"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1.2345e-6, "0.0000012345"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (float("inf"), "Infinity"),
        (float("nan"), "NaN"),
    ],
)
def test_js_number_text(number: float, text: str) -> None:
    assert js_number_text(float(number)) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [("007", 7.0), ("+5", 5.0), ("1e3", 1000.0), (" 42 ", 42.0), (".5", 0.5), ("5.", 5.0), ("-1E-2", -0.01)],
)
def test_numeric_string__accepted(text: str, number: float) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text", ["NaN", "inf", "Infinity", "1_000", "", " ", ".", "e3", "0x10", "\u0661", "1e", "--1", "\t1"]
)
def test_numeric_string__refused(text: str) -> None:
    assert parse_number(text) is None


def test_parse_number__bool_is_not_number() -> None:
    assert parse_number(True) is None


def test_semver__precedence_chain() -> None:
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1",
        "2",
    ]
    keys = [parse_semver(v) for v in chain]
    assert all(k is not None for k in keys)
    assert keys == sorted(keys)  # type: ignore[type-var]  # Optional items: the line above rules None out
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "text",
    ["1.2.3.4", "", "v", "1.", "1..2", "a.b.c", "1.0.0-01", "1.0.0-", "1.0.0+", " 1.0.0", "\u0661.0.0"],
)
def test_semver__refused(text: str) -> None:
    assert parse_semver(text) is None


def test_semver__equal_forms() -> None:
    assert parse_semver("v5.2") == parse_semver("5.2.0") == parse_semver("05.02.00+build")


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2024-01-01", Fraction(1704067200)),
        ("2024-01-01T00:00:00Z", Fraction(1704067200)),
        ("2024-01-01t00:00:00z", Fraction(1704067200)),
        ("2024-01-01 02:00:00+02:00", Fraction(1704067200)),
        ("2024-01-01T02:00+0200", Fraction(1704067200)),
        ("2023-12-31T23:00:00-01:00", Fraction(1704067200)),
        ("2024-01-01T00:00:00.25Z", Fraction(1704067200) + Fraction(1, 4)),
        ("1704067200", Fraction(1704067200)),
        (1704067200, Fraction(1704067200)),
        (1704067200.1, Fraction("1704067200.1")),
    ],
)
def test_parse_instant(text: object, epoch: Fraction) -> None:
    assert parse_instant(text) == epoch


@pytest.mark.parametrize(
    "text",
    ["2024-01-01T00:00:00+02", "2024-13-01", "2024-01-01T25:00", "01/02/2024", "2024-01-01T", "", True],
)
def test_parse_instant__refused(text: object) -> None:
    assert parse_instant(text) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10.0.0.0/8", True),
        ("10.0.0.1", True),
        ("2001:db8::/32", True),
        ("10.0.0.1/8", False),
        ("10.0.0.0/255.0.0.0", False),
        ("10.0.0.0/33", False),
        ("10.0.0.0/08", False),
        ("fe80::%eth0/64", False),
        ("010.0.0.0/8", False),
    ],
)
def test_parse_network(text: str, ok: bool) -> None:
    assert (not isinstance(parse_network(text), str)) is ok


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("^[a-z]+@example\\.com$", True),
        ("(?:ab)+c?", True),
        ("(?=x)x", False),
        ("(?!x)y", False),
        ("^(a+)+$", True),
        ("a{1000}", True),
        ("a{1001}", False),
        ("(?:a{1000}){1000}", False),
        ("\\ud800", False),
        ("a{2,3}?", True),
        ("\\u00e9\\x41", True),
        ("[\\d\\s-]", True),
        ("(?<=x)y", False),
        ("(?<!x)y", False),
        ("(x)\\1", False),
        ("\\k<x>", False),
        ("(?P<n>x)", False),
        ("(?<n>x)", False),
        ("x*+", False),
        ("x?+", False),
        ("(?>x)", False),
        ("(?i)x", False),
        ("(?s:x)", False),
        ("\\Ax\\Z", False),
        ("\\p{L}", False),
        ("[]", False),
        ("[[a]]", False),
        ("a{,3}", False),
        ("\\", False),
    ],
)
def test_check_pattern(pattern: str, ok: bool) -> None:
    assert (check_pattern(pattern) is None) is ok
