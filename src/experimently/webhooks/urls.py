"""One URL rule for webhooks, applied when a webhook is saved and again before each delivery.

The parser is the sender's own (``httpx.URL``), so a URL accepted at save time is one the sender
can call: ``http://8.8.8.8:80:1/`` (a port that is not a number) is refused on save instead of
failing every delivery run later.
"""

from __future__ import annotations

import hashlib
import ipaddress

import httpx

__all__ = ["private_host", "redacted", "url_problem"]

MAX_PORT = 65535


def url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a webhook URL, or None when it can."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:  # idna errors are ValueErrors
        return f"not a valid URL: {exc}"[:300]
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an http or https URL with a host"
    if url.username or url.password:
        return "must not carry credentials (the signature authenticates us)"
    if url.port is not None and not 0 < url.port <= MAX_PORT:
        return f"port must be from 1 to {MAX_PORT}"
    if any(c in url.host for c in " %"):
        return "host must not contain spaces or percent-escapes"
    return None


def private_host(value: str) -> str | None:
    """Why a valid webhook URL can never be delivered to unless private networks are allowed: its host
    is ``localhost`` or a literal address that is not public (what delivery refuses, known without a
    DNS look-up). A name is judged at delivery, where it is resolved."""
    host = httpx.URL(value).host
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this machine: deliveries to it are refused"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address: deliveries to it are refused"
    return None


def redacted(value: str) -> str:
    """``value`` for readers who may not manage webhooks: the scheme, host and port, and in place of
    a path or query (where receivers such as Slack keep their secret) a fingerprint, so that a change
    of URL still shows as one. ``https://hooks.slack.com/services/T0/B0/XYZ`` reads
    ``https://hooks.slack.com/… (sha256 1f2e3d4c)``."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or not url.host:
        return f"(sha256 {hashlib.sha256(value.encode()).hexdigest()[:8]})"
    origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    if url.raw_path in (b"", b"/"):
        return origin + "/"
    return f"{origin}/… (sha256 {hashlib.sha256(value.encode()).hexdigest()[:8]})"
