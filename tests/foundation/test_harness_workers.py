"""The test harness gives each pytest-xdist worker its own database, Redis database and ports."""

from __future__ import annotations

from tests.conftest import worker_database_url, worker_redis_url
from tests.sdk.live import worker_ports

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_first_worker_or_none__the_configured_services() -> None:
    for worker in ("", "gw0"):
        assert worker_database_url(PG, worker) == PG
        assert worker_redis_url("redis://127.0.0.1:6379/15", worker) == "redis://127.0.0.1:6379/15"
    assert worker_database_url(None, "gw1") is None and worker_redis_url(None, "gw1") is None


def test_other_workers__a_database_and_a_redis_db_of_their_own() -> None:
    assert worker_database_url(PG, "gw1") == "postgresql+asyncpg://postgres@127.0.0.1:5432/test_gw1"
    with_password = worker_database_url("postgresql+asyncpg://u:secret@db:5432/x?ssl=require", "gw2")
    assert with_password == "postgresql+asyncpg://u:secret@db:5432/x_gw2?ssl=require"
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw1") == "redis://127.0.0.1:6379/14"
    assert worker_redis_url("redis://127.0.0.1:6379/0", "gw1") == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379", "gw3") == "redis://127.0.0.1:6379/13"


def test_port_ranges__disjoint_between_workers() -> None:
    assert worker_ports("", 1) == range(18400, 18500)
    for count in (2, 3, 8):
        ranges = [set(worker_ports(f"gw{n}", count)) for n in range(count)]
        assert all(len(r) >= 12 for r in ranges)
        assert sum(len(r) for r in ranges) == len(set().union(*ranges))
        assert set().union(*ranges) <= set(range(18400, 18500))
