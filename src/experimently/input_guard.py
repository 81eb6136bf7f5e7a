"""One guard for every string input: NUL characters and lone surrogates are refused with 422; and
for every JSON number: NaN and the infinities are refused with 422.

Neither can be stored (PostgreSQL refuses NUL in text; UTF-8 has no surrogates), so each would
otherwise fail deep in a driver as a 500, field by field. The guard is a pure-ASGI middleware, the
one place every request passes before any endpoint parses it:

- the path and the query string (``%00`` and raw NUL; percent-decoding never yields a surrogate);
- a JSON body: NUL can only be written ``\\u0000`` and a lone surrogate only as a ``\\uD800``-style
  escape (raw surrogate bytes are invalid UTF-8, refused by the JSON parser), so the raw bytes are
  scanned for escapes (a fast substring test first, so an ordinary body costs one ``memchr``);
- a form body (``application/x-www-form-urlencoded``, the login form): ``%00`` or a raw NUL.

NaN and the infinities cannot be stored either (JSON has none: PostgreSQL refuses them, and a value
stored through SQLite made every later encoding of it fail, an SDK payload's among them). Python's
parser reads ``NaN``, ``Infinity`` and numbers beyond a double's range (``1e400``) as such, so the raw
bytes are tested for those tokens (two substring tests and a small regular expression).

Only when something is found is the body parsed again, to name the exact path of the offending
string (object keys included) or number in the usual 422 ``VALIDATION_ERROR`` envelope.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from experimently.errors import ErrorCode, error_body, field_path
from experimently.kit.asgi import read_body, replay

__all__ = ["InputGuardMiddleware", "bad_text_paths"]

# Bodies whose endpoint checks every item itself and answers per item: a batch of events answers
# 202 with each bad event listed in "rejected" (a bad event never drops its neighbours), so the
# guard leaves its body to the event validator, which refuses NUL and lone surrogates per event.
ITEM_CHECKED_BODIES = frozenset({"/api/v1/events/batch"})
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MESSAGE = "must not contain NUL characters or unpaired surrogates"
_NUMBER_MESSAGE = (
    "must be a finite number: JSON has no NaN or infinity, and a number beyond about 1.8e308 is out of range"
)
_HOT_SUFFIXES = ("/evaluate", "/evaluate/batch", "/assign")
_BIG_EXPONENT = re.compile(rb"[0-9][eE]\+?[0-9]{3}")


def bad_text(text: str) -> bool:
    """True when ``text`` holds a NUL character or a lone surrogate."""
    return "\x00" in text or _SURROGATE.search(text) is not None


Location = tuple[int | str, ...]


def _walk(value: Any, loc: Location = ()) -> Iterator[tuple[Any, Location]]:
    """Every node of a parsed JSON document with its location (depth first, no recursion)."""
    stack: list[tuple[Any, Location]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        yield item, where
        if isinstance(item, dict):
            stack.extend((child, (*where, key)) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, (*where, i)) for i, child in enumerate(item))


def bad_text_paths(value: Any, loc: Location = ()) -> Iterator[Location]:
    """Locations of strings (values and object keys) holding NUL or a lone surrogate."""
    for item, where in _walk(value, loc):
        if isinstance(item, str):
            if bad_text(item):
                yield where
        elif isinstance(item, dict):
            yield from ((*where, key) for key in item if isinstance(key, str) and bad_text(key))


def _json_suspect(body: bytes) -> bool:
    """Cheap test on raw JSON: an escaped NUL, or a surrogate escape not part of a valid pair."""
    # bytes.find, not ``in``: ``sub in bytes`` first tries ``sub`` as an integer and raises and
    # clears a TypeError inside CPython each time (~2,000 instructions a test, on every JSON body)
    if body.find(b"\\u") < 0 and body.find(b"\\U") < 0 and body.find(b"\x00") < 0:
        return False
    if body.find(b"\x00") >= 0:
        return True
    pending_high = False
    last_end = -1
    for m in _ESCAPE.finditer(body):
        hex_digits = m.group(1)
        if hex_digits is None:
            if pending_high:
                return True
            continue
        code = int(hex_digits, 16)
        if pending_high:
            if not 0xDC00 <= code <= 0xDFFF:
                return True
            pending_high = False
            if m.start() != last_end:
                return True
        elif code == 0:
            return True
        elif 0xD800 <= code <= 0xDBFF:
            pending_high = True
        elif 0xDC00 <= code <= 0xDFFF:
            return True
        last_end = m.end()
    return pending_high


def _content_type(scope: Scope) -> bytes:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return b""


def _query_problems(scope: Scope) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    path = scope.get("path", "")
    if bad_text(path):
        problems.append({"path": "path", "message": _MESSAGE, "type": "string_characters"})
    raw = scope.get("query_string", b"")
    if raw and (b"%00" in raw or b"\x00" in raw):
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if bad_text(key) or bad_text(value):
                name = key.replace("\x00", "\\u0000")[:200]
                problems.append({"path": name, "message": _MESSAGE, "type": "string_characters"})
    return problems


def _form_problems(body: bytes) -> list[dict[str, str]]:
    if b"%00" not in body and b"\x00" not in body:
        return []
    return [
        {"path": key.replace("\x00", "\\u0000")[:200], "message": _MESSAGE, "type": "string_characters"}
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        if bad_text(key) or bad_text(value)
    ]


def _number_suspect(body: bytes) -> bool:
    """Cheap test on raw JSON: a token Python's parser reads as NaN or an infinity (``NaN``,
    ``Infinity``, or an exponent of three digits or more, as in ``1e400``)."""
    return body.find(b"NaN") >= 0 or body.find(b"Infinity") >= 0 or _BIG_EXPONENT.search(body) is not None


class _NonFinite:
    """Stands, in a parsed document, for a number that is not finite."""


_NON_FINITE = _NonFinite()


def _finite_or_mark(text: str) -> float | _NonFinite:
    number = float(text)
    return number if math.isfinite(number) else _NON_FINITE


def non_finite_paths(value: Any, loc: Location = ()) -> Iterator[Location]:
    return (where for item, where in _walk(value, loc) if item is _NON_FINITE)


def _problem(loc: Location, message: str, kind: str) -> dict[str, str]:
    return {"path": field_path(loc)[:500] if loc else "body", "message": message, "type": kind}


def _json_problems(body: bytes, numbers: bool = True) -> list[dict[str, str]]:
    text_suspect, number_suspect = _json_suspect(body), numbers and _number_suspect(body)
    if not text_suspect and not number_suspect:
        return []
    try:
        # NaN and the infinities would be stored (PostgreSQL's JSON has none: a 500 on every later
        # read, an SDK payload that no longer encodes) or compared (a rule that matches nothing)
        document = json.loads(body, parse_constant=lambda _: _NON_FINITE, parse_float=_finite_or_mark)
    except (ValueError, RecursionError):
        if b"\x00" in body:
            return [{"path": "body", "message": _MESSAGE, "type": "string_characters"}]
        return []  # malformed JSON: the endpoint's own parser reports it
    problems = [_problem(loc, _MESSAGE, "string_characters") for loc in bad_text_paths(document)]
    if number_suspect:
        problems += [_problem(loc, _NUMBER_MESSAGE, "finite_number") for loc in non_finite_paths(document)]
    return problems[:20]


def _hot(scope: Scope) -> bool:
    """The data plane's evaluation and assignment requests: their bodies store nothing (a context is
    evaluated, never kept) and their one value answered back, an evaluation's ``default``, is checked
    by its model (``flags.schemas``); the number scan (~1 us) is left out of them."""
    path = str(scope.get("path", ""))
    return path.startswith("/api/v1/") and path.endswith(_HOT_SUFFIXES)


class InputGuardMiddleware:
    """Refuses NUL and lone surrogates in the path, query, JSON and form bodies (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = _query_problems(scope)
        if problems:
            await self._refuse(scope, send, problems)
            return
        kind = _content_type(scope)
        is_form = kind == b"application/x-www-form-urlencoded"
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and not _has_body(scope):
            await self.app(scope, receive, send)
            return
        if (not is_form and kind.startswith(b"multipart/")) or scope.get("path") in ITEM_CHECKED_BODIES:
            await self.app(scope, receive, send)
            return
        try:
            messages, body = await read_body(receive)
        except HTTPException as exc:  # the body limit (RequestMiddleware) answers 413
            await self._send(
                scope, send, exc.status_code, ErrorCode.PAYLOAD_TOO_LARGE, "request body too large"
            )
            return
        problems = _form_problems(body) if is_form else _json_problems(body, not _hot(scope))
        if problems:
            await self._refuse(scope, send, problems)
            return
        await self.app(scope, replay(messages, receive), send)

    async def _refuse(self, scope: Scope, send: Send, problems: list[dict[str, str]]) -> None:
        message = "request validation failed: " + problems[0]["message"]
        await self._send(scope, send, 422, ErrorCode.VALIDATION_ERROR, message, {"errors": problems})

    async def _send(
        self,
        scope: Scope,
        send: Send,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        request_id = (scope.get("state") or {}).get("request_id")
        body = json.dumps(error_body(code, message, request_id, details)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return bytes(value) not in (b"", b"0")
        if key == b"transfer-encoding":
            return True
    return False
