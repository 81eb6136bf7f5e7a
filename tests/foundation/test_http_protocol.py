"""The response head and body go to the socket in one write; a stream's head is not held back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from experimently.kit.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorder:
    """A transport that records what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


def _wrap() -> tuple[CoalescingTransport, Recorder]:
    recorder = Recorder()
    return CoalescingTransport(recorder, asyncio.get_running_loop()), recorder  # type: ignore[arg-type]  # a recorder stands in


async def test_head_then_body__one_write() -> None:
    transport, recorder = _wrap()
    transport.write(HEAD)
    assert recorder.writes == []
    transport.write(b"{}")
    assert recorder.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing held
    assert recorder.writes == [HEAD + b"{}"]


async def test_head_alone__sent_on_the_next_loop_turn_or_at_close() -> None:
    transport, recorder = _wrap()
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert recorder.writes == [HEAD]
    transport.write(HEAD)
    transport.close()
    assert recorder.writes == [HEAD, HEAD] and recorder.closed


async def test_other_writes_pass_through__other_attributes_delegated() -> None:
    transport, recorder = _wrap()
    transport.write(b"data: 1\n\n")
    transport.write(b"HTTP/1.1 100 Continue\r\n")  # not a whole head: not held
    assert recorder.writes == [b"data: 1\n\n", b"HTTP/1.1 100 Continue\r\n"]
    assert transport.get_extra_info("peername") == "info:peername"


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":  # the first chunk 0.5 s after the head
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": False})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol, log_level="error"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # bounded: 5 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def test_uvicorn__keep_alive_answers_and_a_stream_head_without_waiting() -> None:
    async with _server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # keep-alive: each answer whole, in order
            writer.write(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and await reader.readexactly(2) == b"{}"
        started = time.monotonic()
        writer.write(b"GET /stream HTTP/1.1\r\nhost: t\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 0.3  # not held for the body
        assert b"data: 1" in await reader.readuntil(b"data: 1\n\n")
        assert time.monotonic() - started >= 0.45
        writer.close()
