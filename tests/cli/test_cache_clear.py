"""``experimently cache clear``: after a database restore, running instances stop serving the cached
copies of the newer state and reload from the database."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from experimently.flags.models import Flag
from tests.cli.test_cli import cli
from tests.conftest import start_harness
from tests.flags.test_api import create_flag, evaluate, put_env
from tests.private_services import available, private_redis

pytestmark = pytest.mark.skipif(not available(), reason="needs redis-server and initdb on PATH")


async def test_cache_clear__running_instances_reload_from_the_database(
    tmp_path: Path, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with private_redis() as redis:
        shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
        async with start_harness("sqlite", tmp_path, redis_url=redis.url) as h:
            # Given a flag served on from the cache
            await create_flag(h)
            config = {"enabled": True, "rules": [], "fallthrough": {"variation": "on"}}
            assert (await put_env(h, "new-checkout", "production", config, 1)).status_code == 200
            key = await h.api_key(["evaluate"])
            assert (await evaluate(h, key, "new-checkout", "u1"))["value"] is True
            # When the database goes back to the flag's version 1, off (a restore: no invalidation)
            async with h.runtime.db.transaction() as session:
                flag = (await session.scalars(select(Flag).where(Flag.key == "new-checkout"))).one()
                flag.environments = {
                    **flag.environments,
                    "production": {**flag.environments["production"], "enabled": False},
                }
                flag.version = 1
            assert (await evaluate(h, key, "new-checkout", "u1"))["value"] is True  # still the cache's
            # and the operator clears the cache
            for name in list(os.environ):
                if name.startswith("EXPERIMENTLY_") and not name.startswith("EXPERIMENTLY_TEST_"):
                    monkeypatch.delenv(name)
            monkeypatch.setenv("EXPERIMENTLY_DATA_DIR", str(tmp_path))
            monkeypatch.setenv("EXPERIMENTLY_REDIS_URL", redis.url)
            result = await asyncio.to_thread(cli, "cache", "clear")
            assert result.exit_code == 0, result.output
            assert "cleared the cache:" in result.output and "ruleset" in result.output
            # Then the running instance serves the database's state
            for _ in range(100):
                if (await evaluate(h, key, "new-checkout", "u1"))["value"] is False:
                    break
                await asyncio.sleep(0.05)
            assert (await evaluate(h, key, "new-checkout", "u1"))["value"] is False


def test_cache_clear__without_redis__says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EXPERIMENTLY_") and not name.startswith("EXPERIMENTLY_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert cli("migrate").exit_code == 0
    result = cli("cache", "clear")
    assert result.exit_code == 0 and "nothing cached in Redis" in result.output


def test_kill_switch__redis_unreachable__says_the_servers_were_not_told(
    tmp_path: Path, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator walk: a kill during a Redis outage printed "killed" and nothing else, while running
    servers went on serving the flag on for up to a minute (their cached copy)."""
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    for name in list(os.environ):
        if name.startswith("EXPERIMENTLY_") and not name.startswith("EXPERIMENTLY_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EXPERIMENTLY_DATA_DIR", str(tmp_path))
    assert cli("migrate").exit_code == 0  # the default environments
    flags = tmp_path / "flags.yaml"
    flags.write_text("version: 1\nflags:\n- key: new-checkout\n  name: New checkout\n  type: boolean\n")
    assert cli("import", str(flags)).exit_code == 0
    with private_redis() as redis:
        monkeypatch.setenv("EXPERIMENTLY_REDIS_URL", redis.url)
        told = cli("flags", "enable", "new-checkout", "--reason", "launch")
        assert told.exit_code == 0 and "warning" not in told.output, told.output
        redis.stop(kill=True)
        killed = cli("flags", "kill", "new-checkout", "--reason", "incident")
    assert killed.exit_code == 0, killed.output  # stored and audited: the kill itself stands
    assert "killed (serving its off variation)" in killed.output
    assert "warning: Redis is unreachable: running servers were not told" in killed.output
