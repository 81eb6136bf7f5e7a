"""Keeping the ruleset current: the first fetch, then the stream, falling back to polling.

One daemon thread. The stream (``GET /api/v1/sdk/stream``, read with ``httpx-sse``) delivers whole
payloads; whenever it drops, the thread fetches ``GET /api/v1/sdk/flags`` with ``If-None-Match`` (so a
change made while disconnected is caught at once) and reconnects after a full-jitter exponential
backoff, sending ``Last-Event-ID``. A server without the stream (404) or refusing more connections
(429) is polled every ``poll_interval`` seconds instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from httpx_sse import connect_sse

from experimently_sdk.client.events import error_message, retry_delay

log = logging.getLogger("experimently_sdk")

OnPayload = Callable[[str, Mapping[str, Any]], None]


class Updater:
    def __init__(
        self,
        http: httpx.Client,
        on_payload: OnPayload,
        *,
        stream: bool,
        poll_interval: float,
        read_timeout: float,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        on_first_attempt: Callable[[], None] | None = None,
    ) -> None:
        self.on_first_attempt = on_first_attempt
        self.http = http
        self.on_payload = on_payload
        self.use_stream = stream
        self.poll_interval = poll_interval
        self.read_timeout = read_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.version: str | None = None
        self.connected = False  # the stream is open
        self.reconnects = 0
        self._failure: str | None = None  # what the last fetch failed with; logged once per change
        self._busy_said = False  # a refused stream (429) was said; again only after a stream was open
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="experimently-updates", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _apply(self, version: str, payload: Mapping[str, Any]) -> None:
        if version != self.version:
            self.version = version
            self.on_payload(version, payload)

    def fetch(self) -> bool:
        """One poll; True when the server answered."""
        headers = {"If-None-Match": f'"{self.version}"'} if self.version else {}
        try:
            response = self.http.get("/api/v1/sdk/flags", headers=headers)
        except Exception as exc:  # network errors, and a client closed meanwhile
            if not self._stop.is_set():
                self._failed(logging.WARNING, f"server unreachable ({type(exc).__name__}: {exc})")
            return False
        if response.status_code == 304:
            self._recovered()
            return True
        if response.status_code != 200:
            level = logging.ERROR if response.status_code in (401, 403) else logging.WARNING
            hint = self._root_hint() if response.status_code == 404 else ""
            self._failed(
                level, f"ruleset fetch answered {response.status_code}: {error_message(response)}{hint}"
            )
            return response.status_code < 500
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            # a proxy's or another site's page (an HTML login page, a base URL a path too deep): not
            # the server, whatever the status says
            kind = content_type.split(";")[0].strip() or "no content type"
            hint = self._root_hint()
            self._failed(logging.ERROR, f"ruleset fetch answered 200 with {kind}, not JSON{hint}")
            return False
        try:
            payload = response.json()["data"]
            version = response.headers.get("etag", "").strip('"')
        except Exception as exc:
            self._failed(logging.WARNING, f"unreadable ruleset: {exc!r}")
            return False
        self._recovered()
        self._apply(version, payload)
        return True

    def _root_hint(self) -> str:
        return f" (is {str(self.http.base_url).rstrip('/')!r} the server's root URL?)"

    def _failed(self, level: int, failure: str) -> None:
        """Log a failure when it differs from the last one (a server down for an hour is one line,
        not one per retry); the client keeps serving what it has."""
        if failure != self._failure:
            log.log(level, "experimently: %s; serving the last ruleset or the defaults, retrying", failure)
        else:
            log.debug("experimently: %s", failure)
        self._failure = failure

    def _recovered(self) -> None:
        """Said at warning level, as the failure was: whoever saw one line sees the other."""
        if self._failure is not None:
            log.warning("experimently: the server answers again (was: %s)", self._failure)
            self._failure = None

    def _run(self) -> None:
        self.fetch()  # the stream would send the payload too; a plain GET tells us sooner if we are down
        if self.on_first_attempt is not None:
            self.on_first_attempt()
        attempt = 0
        while not self._stop.is_set():
            if not self.use_stream:
                self._stop.wait(self.poll_interval)
                self.fetch()
                continue
            outcome = self._stream()
            if self._stop.is_set():
                return
            self.fetch()  # catch up on what happened while we were not connected
            if outcome == "unsupported":
                if self._failure is None:  # else the fetch said what is wrong (a 404 there too)
                    log.warning(
                        "experimently: the server has no stream; polling every %ss", self.poll_interval
                    )
                self.use_stream = False
                continue
            if outcome == "busy" and not self._busy_said:
                self._busy_said = True
                log.warning(
                    "experimently: the server refused the stream (429: too many streams open for this "
                    "key); polling every %ss until it accepts one",
                    self.poll_interval,
                )
            attempt = 0 if outcome == "clean" else attempt + 1
            delay = retry_delay(attempt, None, self.backoff_base, self.backoff_cap)
            if outcome == "busy":
                delay = max(delay, self.poll_interval)
            self.reconnects += 1
            self._stop.wait(delay)

    def _stream(self) -> str:
        """Read the stream until it ends: ``clean`` (ended after events), ``failed``, ``busy`` (429)
        or ``unsupported`` (404)."""
        headers = {"Last-Event-ID": self.version} if self.version else {}
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        received = False
        try:
            with connect_sse(self.http, "GET", "/api/v1/sdk/stream", headers=headers, timeout=timeout) as sse:
                status = sse.response.status_code
                if status == 404:
                    return "unsupported"
                if status == 429:
                    return "busy"
                content_type = sse.response.headers.get("content-type", "")
                if status != 200 or not content_type.startswith("text/event-stream"):
                    # the fetch that follows says why, once (a refused key is one line, not one a
                    # retry); a page that is not a stream is not the server answering again
                    log.debug("experimently: stream answered %s (%s)", status, content_type)
                    return "failed"
                self.connected = True
                self._busy_said = False
                self._recovered()  # the stream answering is the server answering again
                for event in sse.iter_sse():
                    if self._stop.is_set():
                        return "clean"
                    received = True
                    if event.event == "put":
                        data = event.json()
                        self._apply(str(data["version"]), data["payload"])
        except Exception as exc:  # network errors, a server gone mid-stream, malformed events
            if not self._stop.is_set():
                log.info("experimently: stream interrupted: %r", exc)
        finally:
            self.connected = False
        return "clean" if received else "failed"
