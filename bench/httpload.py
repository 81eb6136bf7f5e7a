"""A load generator cheap enough not to be the bottleneck of a bench: persistent HTTP/1.1 connections.

``httpx`` costs about a millisecond of client CPU per request (its pool, request and response models,
header objects): at a few hundred requests/s that is most of a core, on a two-core machine that also
runs the servers under test. ``Pool`` keeps a fixed set of persistent connections to one server, writes
a pre-encoded request and reads the status line, the headers and a ``Content-Length`` body: a few tens
of microseconds per request. It understands exactly what our server sends (HTTP/1.1, keep-alive,
``Content-Length`` or chunked bodies, no trailers) and nothing more; it is a bench tool, not a general
client.

``OpenLoop`` starts requests at a fixed rate whatever the server does. A request that finds no idle
connection is counted as ``not_sent`` (the client's own limit, reported apart from the server's
answers), so the achieved rate and the reason it falls short are both visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# what a request can fail with when the server is not there or drops the connection
FAILURES = (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> Answer:
        if self.writer is not None:
            try:
                return await self._exchange(raw)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                # the server closed this idle keep-alive connection (uvicorn does after 5 s) before our
                # request reached it: nothing was answered, so it is sent again on a new connection, as
                # HTTP clients do
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(raw)

    async def _exchange(self, raw: bytes) -> Answer:
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            headers: dict[str, str] = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                length = int(headers.get("content-length", "0"))
                body = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, headers, body)

    async def _chunked(self) -> bytes:
        """A chunked body (the server's error answers are sent so): size lines, chunks, a 0 chunk."""
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers from our server: the final CRLF
                return b"".join(parts)
            parts.append((await self.reader.readexactly(size + 2))[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """At most ``size`` persistent connections to one server; ``request`` waits for an idle one."""

    def __init__(self, host: str, port: int, size: int = 32) -> None:
        self.host, self.port = host, port
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        for _ in range(size):
            self._idle.put_nowait(_Connection(host, port))

    def has_idle(self) -> bool:
        return not self._idle.empty()

    def encode(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b"", *, within: float = 10
    ) -> Answer:
        raw = self.encode(method, path, headers, body)
        conn = await self._idle.get()
        try:
            return await asyncio.wait_for(conn.request(raw), timeout=within)
        except BaseException:
            conn.close()
            raise
        finally:
            self._idle.put_nowait(conn)

    def close(self) -> None:
        while not self._idle.empty():
            with contextlib.suppress(Exception):
                self._idle.get_nowait().close()


@dataclass
class LoadStats:
    offered: int = 0
    not_sent: int = 0
    answered: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class OpenLoop:
    """``rate`` GET requests/s spread round-robin over ``pools``; ``make_path(n)`` gives the n-th
    request's path; ``on_answer(port, answer)`` sees every answer."""

    def __init__(
        self,
        pools: list[Pool],
        rate: float,
        make_path: Callable[[int], str],
        headers: dict[str, str],
        *,
        on_answer: Callable[[int, Answer], None] | None = None,
    ) -> None:
        self.pools, self.rate, self.make_path, self.headers = pools, rate, make_path, headers
        self.on_answer = on_answer
        self.stats = LoadStats()
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = False

    async def _one(self, n: int, pool: Pool) -> None:
        started = time.perf_counter()
        try:
            answer = await pool.request("GET", self.make_path(n), self.headers)
        except FAILURES:
            self.stats.failed += 1
            self.stats.statuses[0] = self.stats.statuses.get(0, 0) + 1
            return
        self.stats.answered += 1
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.statuses[answer.status] = self.stats.statuses.get(answer.status, 0) + 1
        if self.on_answer is not None:
            self.on_answer(pool.port, answer)

    async def run(self) -> None:
        self.running = True
        started, n = time.monotonic(), 0
        while self.running:
            n += 1
            self.stats.offered += 1
            pool = self.pools[n % len(self.pools)]
            if pool.has_idle():
                task = asyncio.create_task(self._one(n, pool))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.stats.not_sent += 1
            delay = started + n / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        self.running = False
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=15)
