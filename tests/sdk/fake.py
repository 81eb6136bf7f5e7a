"""A small fake of the server's event receiver (the outside world for the client): answers what the
test scripts (503, 429 with Retry-After, a hang) and records the events it accepted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.sdk.live import free_port


class Receiver:
    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []  # answers for the next batches, in order
        self.accepted: list[dict[str, Any]] = []
        self.attempts = 0
        self.in_flight = 0
        self.release = threading.Event()  # cleared: every request hangs until it is set
        self.release.set()
        self.lock = threading.Lock()


@contextmanager
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            with state.lock:
                state.in_flight += 1
            state.release.wait()
            with state.lock:
                state.in_flight -= 1
            self._answer(404, {"error": {"code": "RESOURCE_NOT_FOUND"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.in_flight += 1
            state.release.wait()
            with state.lock:
                state.in_flight -= 1
                state.attempts += 1
                status, headers = state.script.pop(0) if state.script else (202, {})
                if status == 202:
                    state.accepted.extend(body["events"])
            self._answer(status, {"data": {"accepted": len(body["events"]), "rejected": []}}, headers)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
