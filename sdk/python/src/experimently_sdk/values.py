"""Value interpretation shared by validation and evaluation.

Numeric strings, JavaScript number text, versions, instants and networks. Every parser returns
``None`` for a value it cannot interpret; none of them raises.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal
from typing import Any

__all__ = [
    "IPAddress",
    "IPNetwork",
    "SemVerKey",
    "is_number",
    "is_scalar",
    "js_number_text",
    "parse_address",
    "parse_instant",
    "parse_network",
    "parse_number",
    "parse_semver",
    "value_text",
]

_NUMERIC_RE = re.compile(r" *[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *", re.ASCII)
_numeric_match = _NUMERIC_RE.fullmatch


def is_number(value: object) -> bool:
    """True for JSON numbers (int or float, never bool)."""
    t = type(value)
    return t is int or t is float


def parse_number(value: object) -> float | None:
    """A number or numeric string as an IEEE-754 double; ``None`` when not numeric.

    The string grammar is pinned by the targeting semantics: optional surrounding ASCII spaces,
    optional sign, ASCII digits with optional fraction and exponent. ``float()`` alone is too lax
    (it accepts ``"NaN"``, ``"inf"``, ``"1_000"`` and non-ASCII digits).
    """
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if type(value) is str and _numeric_match(value):
        return float(value)
    return None


def js_number_text(value: float) -> str:
    """The text JavaScript's ``Number.prototype.toString`` gives for ``value``.

    Python's ``repr`` finds the same shortest round-trip digits; only the layout differs
    (``1e+21`` not ``1e21``, ``1e-7`` not ``1e-07``, ``100`` not ``100.0``).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + js_number_text(-value)
    mantissa, _, exp_text = repr(value).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    raw = int_part + frac_part
    digits = raw.lstrip("0")
    # n: position of the decimal point counted from the first significant digit
    n = len(int_part) + (int(exp_text) if exp_text else 0) - (len(raw) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"


def value_text(value: object) -> str | None:
    """Text for string operators: strings as-is, numbers as JS writes them, booleans lower-case."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int or type(value) is float:
        number = parse_number(value)
        return None if number is None else js_number_text(number)
    return None


# ---------------------------------------------------------------------------------------------
# Versions

_SEMVER_RE = re.compile(
    r"[vV]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)

# (major, minor, patch, is_release, prerelease identifiers); tuples order as SemVer 2.0 precedence.
SemVerKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


MAX_VERSION_LENGTH = 256


def parse_semver(value: object) -> SemVerKey | None:
    """A comparable key for a version string, or ``None`` when it is not a version.

    A text longer than ``MAX_VERSION_LENGTH`` is not a version: parsing stays bounded and no part
    reaches the interpreter's limit on integer text (4,300 digits).
    """
    if type(value) is not str or len(value) > MAX_VERSION_LENGTH:
        return None
    m = _SEMVER_RE.fullmatch(value)
    if m is None:
        return None
    major, minor, patch, pre = m.group(1, 2, 3, 4)
    if pre is None:
        return (int(major), int(minor or 0), int(patch or 0), 1, ())
    idents: list[tuple[int, int, str]] = []
    for ident in pre.split("."):
        if ident.isdigit():
            if len(ident) > 1 and ident[0] == "0":
                return None
            idents.append((0, int(ident), ""))
        else:
            idents.append((1, 0, ident))
    return (int(major), int(minor or 0), int(patch or 0), 0, tuple(idents))


# ---------------------------------------------------------------------------------------------
# Instants

_DATE_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


MAX_INSTANT_LENGTH = 64


def parse_instant(value: object) -> Decimal | None:
    """Epoch seconds (exact) for an ISO-8601 text, a date, or epoch seconds; ``None`` otherwise.

    Bounded work whatever the input: a text longer than ``MAX_INSTANT_LENGTH`` is not a date, and a
    numeric text is read as a ``Decimal`` (digits and exponent, never expanded), so ``"1e-10000000"``
    costs what ``"1e-1"`` costs. Numbers are read as the IEEE double they denote, like ``gt``/``lt``.
    """
    if type(value) is int:
        number = parse_number(value)
        return Decimal(repr(number)) if number is not None and math.isfinite(number) else None
    if type(value) is float:
        # the number as written (shortest decimal), so 1.1 is exactly 11/10
        return Decimal(repr(value)) if math.isfinite(value) else None
    if type(value) is not str or len(value) > MAX_INSTANT_LENGTH:
        return None
    if _numeric_match(value):
        return Decimal(value.strip()) if math.isfinite(float(value)) else None
    return _parse_iso(value)


def _parse_iso(text: str) -> Decimal | None:
    m = _DATE_RE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, offset = m.groups()
    try:
        tz = _offset(offset)
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
    except ValueError:
        return None
    delta = moment - _EPOCH
    whole = Decimal(delta.days * 86400 + delta.seconds)
    if not frac:
        return whole
    # exact: the precision covers every digit of both terms
    return Context(prec=len(frac) + 20).add(whole, Decimal("0." + frac))


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


# ---------------------------------------------------------------------------------------------
# Networks

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_PREFIX_RE = re.compile(r"0|[1-9][0-9]{0,2}", re.ASCII)


def parse_address(value: object) -> IPAddress | None:
    """An IP address; zone ids, leading-zero octets and anything else give ``None``."""
    if type(value) is not str or "%" in value or not value.isascii():
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def parse_network(value: object) -> IPNetwork | str:
    """A network in prefix-length form (or a single address); an error message when refused."""
    if type(value) is not str:
        return "must be a string"
    text = value
    address_text, slash, prefix = text.partition("/")
    address = parse_address(address_text)
    if address is None:
        return f"{text!r} is not an IP address or CIDR network"
    if not slash:
        return ipaddress.ip_network(address)
    if not _PREFIX_RE.fullmatch(prefix) or int(prefix) > address.max_prefixlen:
        return f"{text!r} has an invalid prefix length (use /N)"
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return f"{text!r} has host bits set"


def is_scalar(value: Any) -> bool:
    """A JSON scalar usable in equality: string, finite number or boolean."""
    if type(value) is float:
        return math.isfinite(value)
    return type(value) in (str, int, bool)
