"""Test harness: every API test runs on the embedded shape (SQLite, in-memory) and, when
EXPERIMENTLY_TEST_DATABASE_URL / EXPERIMENTLY_TEST_REDIS_URL are set, on PostgreSQL + Redis too.
Under CI=true the real services are required: a missing one fails the run instead of skipping."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from experimently import migrate
from experimently.app import create_app
from experimently.bootstrap import bootstrap
from experimently.config import Settings
from experimently.kit import clock
from experimently.models import metadata
from experimently.runtime import Runtime, build_runtime

IN_CI = os.environ.get("CI", "").lower() == "true"
# Under pytest-xdist (`make test` runs `pytest -n`), each worker ("gw0", "gw1", ...) gets a database and a
# Redis database of its own, named from the configured ones: `test` -> `test_gw1`, `/15` -> `/14`.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_database_url(url: str | None, worker: str) -> str | None:
    """The worker's own PostgreSQL database: the configured one for the first worker (or none)."""
    if not url or worker in ("", "gw0"):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def worker_redis_url(url: str | None, worker: str) -> str | None:
    """The worker's own Redis database number, counting down from the configured one (16 in all)."""
    if not url or worker in ("", "gw0"):
        return url
    parts = urlsplit(url)
    own = (int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))) % 16
    return urlunsplit(parts._replace(path=f"/{own}"))


PG_URL = worker_database_url(os.environ.get("EXPERIMENTLY_TEST_DATABASE_URL"), WORKER)
REDIS_URL = worker_redis_url(os.environ.get("EXPERIMENTLY_TEST_REDIS_URL"), WORKER)
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-123"
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI="  # 32 bytes, url-safe base64

if IN_CI and not (PG_URL and REDIS_URL):
    raise RuntimeError("CI=true: EXPERIMENTLY_TEST_DATABASE_URL and EXPERIMENTLY_TEST_REDIS_URL are required")

BACKENDS = ["sqlite", *(["postgres"] if PG_URL and REDIS_URL else [])]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; each test copies it (fast, and migrations are exercised)."""
    import asyncio  # noqa: F401  (the session loop runs the async fixture below)

    return tmp_path_factory.mktemp("template") / "experimently.db"


@pytest.fixture(scope="session")
async def migrated_sqlite(sqlite_template: Path) -> Path:
    engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_template}")
    await migrate.upgrade(engine)
    await engine.dispose()
    return sqlite_template


@pytest.fixture(scope="session")
async def migrated_postgres() -> str | None:
    if not PG_URL:
        return None
    await _create_database(PG_URL)
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return PG_URL


async def _create_database(url: str) -> None:
    """Create a worker's database when it does not exist yet (through the server's `postgres` one)."""
    if url == os.environ.get("EXPERIMENTLY_TEST_DATABASE_URL"):
        return  # the configured database exists; only the other workers' are created here
    name = make_url(url).database
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _truncate_postgres(url: str) -> None:
    engine = create_async_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@dataclass
class Harness:
    """One running app (lifespan entered) and an HTTP client to it."""

    backend: str
    runtime: Runtime
    client: httpx.AsyncClient
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, email: str, password: str) -> dict[str, str]:
        response = await self.client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def admin(self) -> dict[str, str]:
        if "admin" not in self.tokens:
            self.tokens["admin"] = (await self.login(ADMIN_EMAIL, ADMIN_PASSWORD))["Authorization"]
        return {"Authorization": self.tokens["admin"]}

    async def user(self, role: str, email: str | None = None) -> tuple[dict[str, str], str]:
        """Create a user with ``role`` via the API; returns (auth headers, user id)."""
        email = email or f"{role}-{len(self.tokens)}@example.com"
        password = "user-password-123"
        response = await self.client.post(
            "/api/v1/users",
            json={"email": email, "role": role, "password": password},
            headers=await self.admin(),
        )
        assert response.status_code == 201, response.text
        self.tokens[email] = "x"
        return await self.login(email, password), response.json()["data"]["id"]

    async def api_key(self, scopes: list[str], environment: str = "production") -> dict[str, str]:
        response = await self.client.post(
            "/api/v1/api-keys",
            json={"name": "test", "environment": environment, "scopes": scopes},
            headers=await self.admin(),
        )
        assert response.status_code == 201, response.text
        return {"X-API-Key": response.json()["data"]["key"]}

    async def audit(self, **filters: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/audit-logs", params={"limit": 500, **filters}, headers=await self.admin()
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["data"]
        return rows


def make_settings(backend: str, data_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "secret_key": "test-secret-key-not-for-production-0123456789",
        "encryption_keys": TEST_ENCRYPTION_KEY,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "run_jobs": False,
        "access_log": False,
        "log_level": "WARNING",
        "login_rate_limit": "1000/minute",
    }
    if backend == "postgres":
        base |= {"database_url": PG_URL, "redis_url": REDIS_URL}
    base |= overrides
    return Settings(**base).resolve()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its harness."""
    return {}


@pytest.fixture
async def harness(
    backend: str,
    tmp_path: Path,
    migrated_sqlite: Path,
    migrated_postgres: str | None,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Harness]:
    if backend == "sqlite":
        shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    else:
        assert migrated_postgres is not None and REDIS_URL is not None
        await _truncate_postgres(migrated_postgres)
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
        await redis.aclose()
    async with start_harness(backend, tmp_path, **settings_overrides) as h:
        yield h


class start_harness:  # lower-case: used like a function, as an async context manager
    def __init__(self, backend: str, data_dir: Path, **overrides: Any) -> None:
        self.settings = make_settings(backend, data_dir, **overrides)
        self.backend = backend

    async def __aenter__(self) -> Harness:
        runtime = build_runtime(self.settings)
        await bootstrap(runtime, apply_migrations=False)
        self.app = create_app(self.settings, runtime=runtime)
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return Harness(self.backend, runtime, self.client, self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self._lifespan.__aexit__(None, None, None)


class FakeClock:
    """The clock is outside us: tests move it by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    clock.set_clock(fake)
    yield fake
    clock.set_clock(None)
