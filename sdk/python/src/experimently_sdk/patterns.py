"""The `matches` pattern language, run on RE2 (a linear-time engine: no backtracking).

``check_pattern`` refuses what the engines disagree on or what RE2 cannot run; ``compile_patterns``
translates the accepted texts into one RE2 program with JavaScript's meaning:

- ``$`` is the end of the value (never "before a trailing newline"): ``\\z``;
- ``.`` never matches a line break (``\\n``, ``\\r``, ``\\u2028``, ``\\u2029``);
- ``\\d``, ``\\w``, ``\\b`` are ASCII (as in RE2); ``\\s`` is JavaScript's white-space set;
- with ``case_insensitive`` the value and the pattern's literal characters are case-folded.

RE2 runs in time linear in the value's length times the size of the compiled program, whatever the
pattern: ``^(a+)+$`` costs microseconds on any value. Its price is a smaller dialect: lookahead
(``(?=``, ``(?!``) is refused along with lookbehind and backreferences, a counted repetition is at
most 1,000, and a program larger than ``MAX_PROGRAM_SIZE`` instructions is refused at save time.
Compilation happens once per (pattern, case_insensitive) and is cached, never per evaluation.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_PROGRAM_SIZE",
    "MAX_VALUE_LENGTH",
    "check_pattern",
    "compile_patterns",
    "program_size",
]

MAX_PATTERN_LENGTH = 256
MAX_VALUE_LENGTH = 4096
MAX_PROGRAM_SIZE = 1500  # RE2 instructions; one search costs O(size x value length)

_JS_SPACE = (
    "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}"
    "\\x{202f}\\x{205f}\\x{3000}\\x{feff}"
)
_DOT = "[^\\n\\r\\x{2028}\\x{2029}]"
_CLASS_ESCAPES = frozenset("dDwWtnrfv")
_ATOM_ESCAPES = frozenset("dDwWsSbBtnrfv")
_BRACE_RE = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}", re.ASCII)
_UNANCHORED = re2._Anchor.UNANCHORED  # the public search() is a slow generator

StrTest = Callable[[str], bool]


def _options(case_insensitive: bool) -> Any:
    options = re2.Options()
    options.never_capture = True  # no submatches: RE2 can always answer with its DFA
    options.log_errors = False
    options.case_sensitive = not case_insensitive
    return options


def _escape(char: str) -> str:
    """A literal character in RE2 syntax (inside or outside a class)."""
    if char.isascii() and (char.isalnum() or char == "_"):
        return char
    if char.isascii() and char.isprintable() and char != " ":
        return "\\" + char
    return f"\\x{{{ord(char):x}}}"


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
        return _escape(char)


class _PatternError(ValueError):
    pass


def check_pattern(pattern: str, *, case_insensitive: bool = False) -> str | None:
    """``None`` when the pattern is accepted, else the reason it is refused."""
    try:
        _compiled(pattern, case_insensitive)
    except _PatternError as exc:
        return str(exc)
    return None


def program_size(pattern: str, *, case_insensitive: bool = False) -> int:
    """The size of the RE2 program an accepted pattern compiles to (raises ``ValueError`` if refused)."""
    return int(_compiled(pattern, case_insensitive)._regexp.ProgramSize())


def compile_patterns(patterns: tuple[str, ...], *, case_insensitive: bool) -> StrTest:
    """One test for "ANY of ``patterns`` is found in the value"; raises ``ValueError`` if refused.

    Values longer than ``MAX_VALUE_LENGTH`` never match. The patterns are joined into one RE2
    program when it stays small enough (one pass over the value), else tested one by one.
    """
    regexps = [_compiled(p, case_insensitive) for p in patterns]
    if len(patterns) > 1:
        with contextlib.suppress(_PatternError):
            regexps = [
                _compiled_text("|".join(_translate(p, case_insensitive) for p in patterns), case_insensitive)
            ]
    matchers = tuple(r._regexp.Match for r in regexps)

    def test(value: str) -> bool:
        if len(value) > MAX_VALUE_LENGTH:
            return False
        if case_insensitive:
            value = value.casefold()
        try:
            data = value.encode()
        except UnicodeEncodeError:  # a lone surrogate: not text RE2 can read; no match
            return False
        end = len(data)
        for match in matchers:  # noqa: SIM110 - a plain loop: no generator in the hot path
            if match(_UNANCHORED, data, 0, end)[0][0] >= 0:
                return True
        return False

    return test


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, case_insensitive: bool) -> Any:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _PatternError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    return _compiled_text(_translate(pattern, case_insensitive), case_insensitive)


def _compiled_text(text: str, case_insensitive: bool) -> Any:
    try:
        regexp = re2.compile(text, _options(case_insensitive))
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise _PatternError(f"invalid pattern: {_plain(reason)}") from None
    if regexp._regexp.ProgramSize() > MAX_PROGRAM_SIZE:
        raise _PatternError(
            f"pattern too large: it compiles to more than {MAX_PROGRAM_SIZE} RE2 instructions"
        )
    return regexp


# RE2's reasons ("missing ): (?:(ab)") in a pattern author's words: the fragment RE2 quotes is our
# translation of the pattern (wrapped in "(?:...)", "." spelled as a class), not what the author wrote,
# so it is named only where it is a piece of the author's own text
_REASONS = {
    "missing )": "a '(' is never closed",
    "unexpected )": "a ')' has no '(' before it",
    "missing ]": "unterminated character class",
    "no argument for repetition operator": "'{}' has nothing before it to repeat",
    "bad repetition operator": "'{}' repeats a repetition",
    "invalid repetition size": "repetition {} is invalid (at most 1000, and in {{n,m}} n may not exceed m)",
    "invalid character class range": "character class range {} is out of order",
}


def _plain(reason: str) -> str:
    code, _, fragment = reason.partition(": ")
    plain = _REASONS.get(code)
    return plain.format(fragment) if plain is not None else code


def _translate(pattern: str, case_insensitive: bool) -> str:
    return "(?:" + "".join(_tokenize(_Scan(pattern, case_insensitive))) + ")"


def _tokenize(scan: _Scan) -> list[str]:
    pattern = scan.pattern
    tokens: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            token, i = _escape_sequence(scan, i, in_class=False)
            tokens.append(token)
        elif c == "[":
            token, i = _char_class(scan, i)
            tokens.append(token)
        elif c == "(":
            i = _group_open(pattern, i, tokens)
        elif c in "*+?":
            tokens.append(c)
            i += 1
            if i < n and pattern[i] == "+":
                raise _PatternError("possessive quantifiers are not supported")
        elif c == "{":
            i = _brace(pattern, i, tokens)
        elif c == ".":
            tokens.append(_DOT)
            i += 1
        elif c == "$":
            tokens.append("\\z")
            i += 1
        elif c in "^|)":
            tokens.append(c)
            i += 1
        else:
            tokens.append(scan.literal(c))
            i += 1
    return tokens


def _group_open(pattern: str, i: int, tokens: list[str]) -> int:
    if not pattern.startswith("(?", i):
        tokens.append("(")
        return i + 1
    opener = pattern[i : i + 3]
    if opener == "(?:":
        tokens.append(opener)
        return i + 3
    if opener in ("(?=", "(?!"):
        raise _PatternError("lookahead is not supported (patterns run on a linear-time engine)")
    if pattern.startswith(("(?<=", "(?<!"), i):
        raise _PatternError("lookbehind is not supported")
    if pattern.startswith(("(?<", "(?P"), i):
        raise _PatternError("named groups are not supported")
    if opener == "(?>":
        raise _PatternError("atomic groups are not supported")
    raise _PatternError("inline flags and other (?...) groups are not supported; use case_insensitive")


def _brace(pattern: str, i: int, tokens: list[str]) -> int:
    m = _BRACE_RE.match(pattern, i)
    if m is None:
        raise _PatternError("'{' must start a quantifier {n}, {n,} or {n,m} (escape it as \\{)")
    end = m.end()
    tokens.append(m.group(0))
    if end < len(pattern) and pattern[end] == "+":
        raise _PatternError("possessive quantifiers are not supported")
    return end


def _escape_sequence(scan: _Scan, i: int, *, in_class: bool) -> tuple[str, int]:
    pattern = scan.pattern
    if i + 1 >= len(pattern):
        raise _PatternError("pattern ends with a lone backslash")
    c = pattern[i + 1]
    if c in "123456789" or c == "k":
        raise _PatternError("backreferences are not supported")
    if c == "0":
        if i + 2 < len(pattern) and pattern[i + 2].isdigit():
            raise _PatternError("octal escapes are not supported")
        return "\\x{0}", i + 2
    if c == "x":
        return _hex(scan, i, 2), i + 4
    if c == "u":
        return _hex(scan, i, 4), i + 6
    if c == "s" or c == "S":
        if in_class:
            if c == "S":
                raise _PatternError("\\S inside a character class is not supported")
            return _JS_SPACE, i + 2
        return f"[{'^' if c == 'S' else ''}{_JS_SPACE}]", i + 2
    allowed = _CLASS_ESCAPES if in_class else _ATOM_ESCAPES
    if c in allowed:
        return "\\" + c, i + 2
    if c.isascii() and c.isalnum():
        raise _PatternError(f"escape \\{c} is not supported")
    return scan.literal(c), i + 2


def _hex(scan: _Scan, i: int, width: int) -> str:
    pattern = scan.pattern
    digits = pattern[i + 2 : i + 2 + width]
    if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
        raise _PatternError(f"\\{pattern[i + 1]} needs {width} hexadecimal digits")
    code = int(digits, 16)
    if 0xD800 <= code <= 0xDFFF:
        raise _PatternError("surrogate code points (\\ud800-\\udfff) are not supported")
    return scan.literal(chr(code))


def _char_class(scan: _Scan, i: int) -> tuple[str, int]:
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
            token, j = _escape_sequence(scan, j, in_class=True)
            parts.append(token)
            continue
        if c == "[" or pattern.startswith(("--", "&&", "~~", "||"), j):
            raise _PatternError("nested sets and set operations in a class are not supported")
        parts.append(c if c in "^-" else scan.literal(c))
        j += 1
    if j >= len(pattern):
        raise _PatternError("unterminated character class")
    parts.append("]")
    return "".join(parts), j + 1
