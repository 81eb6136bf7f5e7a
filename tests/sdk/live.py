"""A real server on a real socket for SDK tests: the app under uvicorn in a thread of the test process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from experimently.app import create_app
from experimently.bootstrap import bootstrap
from experimently.runtime import Runtime, build_runtime
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, WORKER, make_settings

T = TypeVar("T")


def worker_ports(worker: str, workers: int) -> range:
    """18400-18499, split evenly between pytest-xdist workers (gw0 the first): two workers probing
    the same range would both pick its first free port."""
    if not worker:
        return range(18400, 18500)
    size = 100 // max(workers, 1)
    first = 18400 + size * int(worker.removeprefix("gw"))
    return range(first, first + size)


PORTS = worker_ports(WORKER, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def free_port() -> int:
    for port in PORTS:
        with contextlib.closing(socket.socket()) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class LiveServer:
    """``start()`` serves the app on 127.0.0.1:port until ``stop()``; ``admin`` is a logged-in client."""

    @property
    def rt(self) -> Runtime:
        """The running server's runtime (started)."""
        assert self.runtime is not None
        return self.runtime

    def __init__(self, backend: str, data_dir: Path, port: int | None = None, **overrides: Any) -> None:
        self.settings = make_settings(backend, data_dir, **overrides)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.runtime: Runtime | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._admin: httpx.Client | None = None
        self.loop: asyncio.AbstractEventLoop

    def start(self, timeout: float = 60.0) -> LiveServer:
        config = uvicorn.Config(
            create_app(self.settings, runtime=self._runtime()),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"live-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def _runtime(self) -> Runtime:
        self.runtime = build_runtime(self.settings)
        return self.runtime

    def _serve(self) -> None:
        assert self._server is not None and self.runtime is not None

        async def main() -> None:
            assert self._server is not None and self.runtime is not None
            self.loop = asyncio.get_running_loop()
            await bootstrap(self.runtime, apply_migrations=False)
            await self._server.serve()

        asyncio.run(main())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's event loop (its runtime lives there)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
        self._server = self._thread = None

    @property
    def admin(self) -> httpx.Client:
        if self._admin is None:
            client = httpx.Client(base_url=self.base_url, timeout=120)
            token = client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            self._admin = client
        return self._admin

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.admin.request(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()["data"] if response.content else None

    def sdk_key(self, environment: str = "production") -> str:
        body = {"name": "sdk", "environment": environment, "scopes": ["evaluate", "track"]}
        return str(self.call("POST", "/api/v1/api-keys", 201, json=body)["key"])


def copy_database(template: Path, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, data_dir / "experimently.db")
    return data_dir
