"""The `matches` pattern language: the regular-expression subset Python and JavaScript run alike.

``check_pattern`` refuses what the two engines disagree on; ``compile_pattern`` translates the
accepted text into a Python pattern with JavaScript's meaning:

- ``$`` is the end of the value (Python's ``$`` also matches before a trailing newline): ``\\Z``;
- ``.`` never matches a line break (``\\n``, ``\\r``, ``\\u2028``, ``\\u2029``);
- ``\\d``, ``\\w``, ``\\b`` are ASCII (``re.ASCII``); ``\\s`` is JavaScript's white-space set;
- with ``case_insensitive`` the value and the pattern's literal characters are case-folded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_PATTERN_LENGTH", "MAX_VALUE_LENGTH", "check_pattern", "compile_pattern"]

MAX_PATTERN_LENGTH = 256
MAX_VALUE_LENGTH = 4096

_JS_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_DOT = "[^\\n\\r\\u2028\\u2029]"
_CLASS_ESCAPES = frozenset("dDwWtnrfv")
_ATOM_ESCAPES = frozenset("dDwWsSbBtnrfv")
_GROUP_OPENERS = ("(?:", "(?=", "(?!")
_BRACE_RE = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}", re.ASCII)


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # the translated Python text
    literal: bool  # a literal character (subject to case folding)


@dataclass(frozen=True, slots=True)
class _Scan:
    pattern: str
    fold: bool

    def literal(self, char: str) -> str:
        """A literal character, case-folded when ``fold`` (unless it folds to several)."""
        if self.fold:
            folded = char.casefold()
            if len(folded) == 1:
                char = folded
        return char


class _PatternError(ValueError):
    pass


def check_pattern(pattern: str) -> str | None:
    """``None`` when the pattern is accepted, else the reason it is refused."""
    try:
        compile_pattern(pattern, case_insensitive=False)
    except _PatternError as exc:
        return str(exc)
    return None


def compile_pattern(pattern: str, *, case_insensitive: bool) -> re.Pattern[str]:
    """Translate and compile; raises ``ValueError`` (with a message) on a refused pattern."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _PatternError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    tokens = _tokenize(_Scan(pattern, case_insensitive))
    parts = [t.text for t in tokens]
    flags = re.ASCII | (re.IGNORECASE if case_insensitive else 0)
    try:
        return re.compile("".join(parts), flags)
    except re.error as exc:
        raise _PatternError(f"invalid pattern: {exc.msg}") from None


def _tokenize(scan: _Scan) -> list[_Token]:
    pattern = scan.pattern
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            token, i = _escape(scan, i, in_class=False)
            tokens.append(token)
        elif c == "[":
            token, i = _char_class(scan, i)
            tokens.append(token)
        elif c == "(":
            i = _group_open(pattern, i, tokens)
        elif c in "*+?":
            tokens.append(_Token(c, literal=False))
            i += 1
            if i < n and pattern[i] == "+":
                raise _PatternError("possessive quantifiers are not supported")
        elif c == "{":
            i = _brace(pattern, i, tokens)
        elif c == ".":
            tokens.append(_Token(_DOT, literal=False))
            i += 1
        elif c == "$":
            tokens.append(_Token("\\Z", literal=False))
            i += 1
        elif c in "^|)":
            tokens.append(_Token(c, literal=False))
            i += 1
        else:
            tokens.append(_Token(re.escape(scan.literal(c)), literal=True))
            i += 1
    return tokens


def _group_open(pattern: str, i: int, tokens: list[_Token]) -> int:
    if not pattern.startswith("(?", i):
        tokens.append(_Token("(", literal=False))
        return i + 1
    opener = pattern[i : i + 3]
    if opener in _GROUP_OPENERS:
        tokens.append(_Token(opener, literal=False))
        return i + 3
    if pattern.startswith(("(?<=", "(?<!"), i):
        raise _PatternError("lookbehind is not supported")
    if pattern.startswith(("(?<", "(?P"), i):
        raise _PatternError("named groups are not supported")
    if opener == "(?>":
        raise _PatternError("atomic groups are not supported")
    raise _PatternError("inline flags and other (?...) groups are not supported; use case_insensitive")


def _brace(pattern: str, i: int, tokens: list[_Token]) -> int:
    m = _BRACE_RE.match(pattern, i)
    if m is None:
        raise _PatternError("'{' must start a quantifier {n}, {n,} or {n,m} (escape it as \\{)")
    end = m.end()
    tokens.append(_Token(m.group(0), literal=False))
    if end < len(pattern) and pattern[end] == "+":
        raise _PatternError("possessive quantifiers are not supported")
    return end


def _escape(scan: _Scan, i: int, *, in_class: bool) -> tuple[_Token, int]:
    pattern = scan.pattern
    if i + 1 >= len(pattern):
        raise _PatternError("pattern ends with a lone backslash")
    c = pattern[i + 1]
    if c in "123456789" or c == "k":
        raise _PatternError("backreferences are not supported")
    if c == "0":
        if i + 2 < len(pattern) and pattern[i + 2].isdigit():
            raise _PatternError("octal escapes are not supported")
        return _Token("\\x00", literal=True), i + 2
    if c == "x":
        return _hex(scan, i, 2), i + 4
    if c == "u":
        return _hex(scan, i, 4), i + 6
    if c == "s" or c == "S":
        if in_class:
            if c == "S":
                raise _PatternError("\\S inside a character class is not supported")
            return _Token(_JS_SPACE, literal=False), i + 2
        return _Token(f"[{'^' if c == 'S' else ''}{_JS_SPACE}]", literal=False), i + 2
    allowed = _CLASS_ESCAPES if in_class else _ATOM_ESCAPES
    if c in allowed:
        return _Token("\\" + c, literal=False), i + 2
    if c.isascii() and c.isalnum():
        raise _PatternError(f"escape \\{c} is not supported")
    return _Token(re.escape(scan.literal(c)), literal=True), i + 2


def _hex(scan: _Scan, i: int, width: int) -> _Token:
    pattern = scan.pattern
    digits = pattern[i + 2 : i + 2 + width]
    if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
        raise _PatternError(f"\\{pattern[i + 1]} needs {width} hexadecimal digits")
    return _Token(re.escape(scan.literal(chr(int(digits, 16)))), literal=True)


def _char_class(scan: _Scan, i: int) -> tuple[_Token, int]:
    pattern = scan.pattern
    j = i + 1
    parts = ["["]
    if j < len(pattern) and pattern[j] == "^":
        parts.append("^")
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        raise _PatternError("empty character classes ([] and [^]) are not supported")
    while j < len(pattern) and pattern[j] != "]":
        c = pattern[j]
        if c == "\\":
            token, j = _escape(scan, j, in_class=True)
            parts.append(token.text)
            continue
        if c == "[" or pattern.startswith(("--", "&&", "~~", "||"), j):
            raise _PatternError("nested sets and set operations in a class are not supported")
        parts.append(c if c in "^-" else re.escape(scan.literal(c)))
        j += 1
    if j >= len(pattern):
        raise _PatternError("unterminated character class")
    parts.append("]")
    return _Token("".join(parts), literal=False), j + 1
