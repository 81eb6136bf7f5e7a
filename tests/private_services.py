"""Private PostgreSQL and Redis servers for fault tests and the fault harness (``bench/faults.py``).

Each one runs from a temporary directory on a port of its own, is stopped and started on demand and
ended by its process id, never by name. Run as root, PostgreSQL runs as ``nobody`` (``initdb`` refuses
root). Nothing here touches the shared services on 5432 / 6379.

Tests take them through ``private_postgres()`` / ``private_redis()`` (started, and closed whatever
happens) on a free port: one the system assigns, or, when ``EXPERIMENTLY_TEST_PORTS=FIRST-LAST`` is
set, the first free one in that range (for machines where several people run tests side by side).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _wait_port(port: int, up: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            is_up = sock.connect_ex(("127.0.0.1", port)) == 0
        if is_up == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not become {'reachable' if up else 'free'}")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on: the first free one of ``EXPERIMENTLY_TEST_PORTS`` (``FIRST-LAST``)
    not handed out yet by this process, else one the system assigns."""
    span = os.environ.get("EXPERIMENTLY_TEST_PORTS", "")
    if span:
        first, _, last = span.partition("-")
        for port in range(int(first), int(last or first) + 1):
            if port not in _handed_out and _free(port):
                _handed_out.add(port)
                return port
        raise RuntimeError(f"no free port in EXPERIMENTLY_TEST_PORTS={span}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("initdb") is not None


class PrivateRedis:
    def __init__(self, port: int | None = None, *, appendonly: bool = False) -> None:
        self.port = port if port is not None else free_port()
        self.appendonly = appendonly
        self.dir = Path(tempfile.mkdtemp(prefix="experimently-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", ""]
        args += (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, True)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        _wait_port(self.port, False)

    def pause(self) -> None:
        """Hang it (SIGSTOP): connections stay open and nothing answers, as in a network partition."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def wipe(self) -> None:
        """Stopped: forget every byte it persisted (a restart then starts empty)."""
        for item in self.dir.iterdir():
            if item.is_dir():
                shutil.rmtree(item)
            else:
                item.unlink()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="experimently-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self._as = ["runuser", "-u", "nobody", "--"]
            shutil.chown(self.dir, "nobody")
            os.chmod(self.dir, 0o755)
        self._run(
            ["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]
        )

    def _run(self, args: list[str]) -> None:
        subprocess.run([*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError, PermissionError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start"])
        _wait_port(self.port, True)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)  # fast shutdown: clients are disconnected at once
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.pid() is not None:
                time.sleep(0.05)
        _wait_port(self.port, False)

    def _cluster(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, writers...), by process id."""
        pid = self.pid()
        if pid is None:
            return []
        found = [pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    # the parent pid is the 2nd field after the command's closing parenthesis
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry.name))
        return found

    def pause(self) -> None:
        """Hang it (SIGSTOP to every process of the cluster): connections stay open and nothing
        answers, as on a frozen host or behind a partition."""
        for pid in self._cluster():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._cluster():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def close(self) -> None:
        self.resume()  # a stopped cluster would not hear the SIGQUIT
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.pid() is not None:
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_redis(port: int | None = None, *, appendonly: bool = False) -> Iterator[PrivateRedis]:
    """A started private Redis, closed (killed, files removed) when the block ends."""
    server = PrivateRedis(port, appendonly=appendonly)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def private_postgres(port: int | None = None) -> Iterator[PrivatePostgres]:
    """A started private PostgreSQL cluster, closed (stopped, files removed) when the block ends."""
    server = PrivatePostgres(port)
    try:
        server.start()
        yield server
    finally:
        server.close()


async def fresh_schema(url: str) -> None:
    """Drop everything in the cluster's ``public`` schema and apply every migration."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from experimently import migrate

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await migrate.upgrade(engine)
    await engine.dispose()
