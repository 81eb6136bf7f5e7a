"""uvicorn's httptools protocol, with each response's head and body written to the socket at once.

uvicorn writes the status line and headers of a response with one ``transport.write`` and its body
with another. On uvloop each write to an idle socket is its own ``send`` system call and its own TCP
segment, so a small JSON answer costs two system calls here and two wake-ups in the client. This
protocol hands uvicorn a transport that holds the head back until the next write (the body, in the
same event-loop step for every non-streaming response) and sends both together. A head with no body
yet (a stream whose first chunk is not ready) is sent on the next turn of the event loop, so nothing
waits longer than that; closing the connection sends it first.

Measured under ``bench/eval_http.py``'s load: one system call and one segment per answer instead of
two (docs/adr/0005-http-fast-path.md has the figures). Everything else is uvicorn's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpToolsProtocol"]

_STATUS_LINE = b"HTTP/1.1 "  # how every head uvicorn writes begins
_END_OF_HEAD = b"\r\n\r\n"


class CoalescingTransport:
    """A transport whose ``write`` of a response head is held until the next write or loop turn;
    every other attribute is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif isinstance(data, bytes) and data.startswith(_STATUS_LINE) and data.endswith(_END_OF_HEAD):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now (nothing when none is held)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` on a ``CoalescingTransport`` (pass the class as uvicorn's ``http``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport's interface without subclassing it
        stand_in = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, stand_in))
