"""The error-code reference: one entry per :class:`ErrorCode` with its status, cause and remedy.

One source for two renderings: ``GET /api/errors`` (an HTML page this server serves, the default
target of every error body's ``documentation_url``) and ``docs/errors.md`` in the repository, which is
generated from it (``python -m experimently.error_docs > docs/errors.md``; a test keeps them equal)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from experimently.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class ErrorDoc:
    status: str
    cause: str
    remedy: str


CATALOG: dict[ErrorCode, ErrorDoc] = {
    ErrorCode.VALIDATION_ERROR: ErrorDoc(
        "400, 422",
        "The request body, a query parameter or a path parameter does not parse or breaks a rule "
        "(a required field missing, a value out of range, an unknown operator, a weak password). "
        "`details.errors` lists each problem with its exact `path` (such as `rules[2].conditions[0]`) "
        "and a message.",
        "Fix the fields named in `details.errors` and send the request again; nothing was stored.",
    ),
    ErrorCode.AUTHENTICATION_REQUIRED: ErrorDoc(
        "401",
        "The endpoint needs a bearer token (people) or an `X-API-Key` header (applications) and the "
        "request carried neither.",
        "Log in at `POST /api/v1/auth/token` and send `Authorization: Bearer <access_token>`, or send "
        "an API key.",
    ),
    ErrorCode.INVALID_CREDENTIALS: ErrorDoc(
        "401",
        "The email and password do not match an active account, the current password given to change "
        "it is wrong, or an MFA code is wrong, expired or already used (each code works once).",
        "Check the credentials; for MFA, wait for the next code of the authenticator app or use an "
        "unused recovery code. Repeated failures hit the rate limit (`RATE_LIMIT_EXCEEDED`).",
    ),
    ErrorCode.TOKEN_INVALID: ErrorDoc(
        "401",
        "The access, refresh, MFA or identity-provider token is malformed, expired, revoked, was "
        "issued before a password change, or belongs to a deactivated account. A refresh token used "
        "twice revokes its whole session (reuse detection).",
        "Refresh the access token at `POST /api/v1/auth/refresh`; if that fails too, log in again.",
    ),
    ErrorCode.MFA_REQUIRED: ErrorDoc(
        "401",
        "The password was right and the account has MFA on: login has a second step. "
        "`details.mfa_token` (valid five minutes) stands for the first step.",
        '`POST /api/v1/auth/token/mfa` with `{"mfa_token": ..., "code": ...}` (a code of the '
        "authenticator app, or a recovery code); the answer is the usual OAuth2 token JSON.",
    ),
    ErrorCode.MFA_ENROLMENT_REQUIRED: ErrorDoc(
        "403",
        "The server requires MFA for this account (`EXPERIMENTLY_MFA_REQUIRED`) and the account has "
        "not turned it on: until it does, only its own `/api/v1/auth/*` endpoints answer.",
        "`POST /api/v1/auth/mfa/enrol`, scan the QR code, then `POST /api/v1/auth/mfa/confirm` with "
        "the first code. Keep the recovery codes it returns.",
    ),
    ErrorCode.PERMISSION_DENIED: ErrorDoc(
        "403",
        "The caller is authenticated but its role (or the API key's scopes or environment) does not "
        "allow this operation; `details` names what was missing where it helps.",
        "Ask an admin for a role or a key with the needed permission (the matrix is in docs/security.md).",
    ),
    ErrorCode.RESOURCE_NOT_FOUND: ErrorDoc(
        "404",
        "The flag, experiment, segment, user or other resource named in the path does not exist (or "
        "was deleted). `details` names the resource type and id.",
        "Check the key or id (keys are case-sensitive); list the collection to find it.",
    ),
    ErrorCode.ROUTE_NOT_FOUND: ErrorDoc(
        "404",
        "No endpoint exists at this path.",
        "Check the path against the OpenAPI document at `/api/openapi.json` (every path starts with "
        "`/api/v1` or `/api/beta`).",
    ),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorDoc(
        "405",
        "The path exists but not with this HTTP method.",
        "Use one of the methods the OpenAPI document lists for the path.",
    ),
    ErrorCode.CONFLICT: ErrorDoc(
        "409",
        "The change clashes with stored state: a key or email already taken, or an update naming a "
        "`version` older than the stored one (someone else changed it meanwhile).",
        "For a duplicate, choose another key; for a stale version, reload the resource, re-apply the "
        "change and send it with the current `version`.",
    ),
    ErrorCode.INVALID_STATE_TRANSITION: ErrorDoc(
        "409",
        "The lifecycle does not allow this step from the current state (starting a completed "
        "experiment, say).",
        "Read the resource's current `status`; docs/experiments.md lists the allowed transitions.",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorDoc(
        "413",
        "The request body is larger than `EXPERIMENTLY_MAX_BODY_BYTES` (2 MiB by default).",
        "Send smaller requests (split an event batch in two, for example).",
    ),
    ErrorCode.RATE_LIMIT_EXCEEDED: ErrorDoc(
        "429",
        "Too many requests in the window: logins per IP and per account, MFA codes per account, or "
        "requests per API key.",
        "Wait for the number of seconds in the `Retry-After` header (also in "
        "`details.retry_after_seconds`), then retry.",
    ),
    ErrorCode.SERVICE_UNAVAILABLE: ErrorDoc(
        "503",
        "A dependency (the database, Redis, the event queue) is down or saturated; nothing was lost "
        "and nothing half-written.",
        "Retry after the `Retry-After` header's seconds; the request is safe to repeat.",
    ),
    ErrorCode.INTERNAL_ERROR: ErrorDoc(
        "500",
        "A defect on our side; the server logged it with the `request_id` of the answer.",
        "Report the `request_id` (also in the `X-Request-ID` header) to the operators.",
    ),
}


def anchor(code: str) -> str:
    """The fragment of a code's entry: the lower-case code (GitHub's heading anchor too)."""
    return code.lower()


def render_markdown() -> str:
    lines = [
        "# Error codes",
        "",
        "Every error answer has the same envelope:",
        "",
        "```json",
        '{"error": {"code": "RESOURCE_NOT_FOUND", "message": "flag \'x\' not found", "details": {},',
        '           "request_id": "…", "documentation_url": "/api/errors#resource_not_found"}}',
        "```",
        "",
        "`documentation_url` points at the code's entry below. By default it is the page the server "
        "itself serves at `GET /api/errors` (no authentication, same text as this file); set "
        "`EXPERIMENTLY_ERRORS_DOCS_URL` to point elsewhere (your own copy of this file, say). This "
        "file is generated from `src/experimently/error_docs.py` "
        "(`python -m experimently.error_docs > docs/errors.md`); a test fails when a code has no entry.",
        "",
    ]
    for code, doc in CATALOG.items():
        lines += [
            f"## {code.value}",
            "",
            f"HTTP status: {doc.status}",
            "",
            f"**Cause.** {doc.cause}",
            "",
            f"**Remedy.** {doc.remedy}",
            "",
        ]
    return "\n".join(lines)


def _inline(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html() -> str:
    items = "".join(
        f'<section id="{anchor(code)}"><h2>{code.value}</h2><p>HTTP status: {doc.status}</p>'
        f"<p><strong>Cause.</strong> {_inline(doc.cause)}</p>"
        f"<p><strong>Remedy.</strong> {_inline(doc.remedy)}</p></section>"
        for code, doc in CATALOG.items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experimently error codes'
        "</title><style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}section{border-top:1px solid #ddd}:target{background:#fff8d0}"
        "</style></head><body><h1>Experimently error codes</h1>"
        "<p>Each error answer carries one of these codes and a <code>documentation_url</code> to its "
        f"entry.</p>{items}</body></html>"
    )


if __name__ == "__main__":
    print(render_markdown(), end="")
