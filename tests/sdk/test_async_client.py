"""AsyncClient: the same API for asyncio code, against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from experimently_sdk.client import AsyncClient, ChangeEvent
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import TWO, put_flag


async def test_async_client__evaluates__streams_changes__tracks(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    server = await asyncio.to_thread(LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start)
    try:
        await asyncio.to_thread(
            server.call, "POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"}
        )
        await asyncio.to_thread(
            server.call, "POST", "/api/v1/experiments", 201, json={"key": "e", "name": "e", "variants": TWO}
        )
        await asyncio.to_thread(server.call, "POST", "/api/v1/experiments/e/start")
        key = await asyncio.to_thread(server.sdk_key)
        changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        async with AsyncClient(key, server.base_url, init_timeout=30, flush_interval=0.05) as client:
            assert client.initialized and client.is_enabled("f", "u1") is False
            assert client.get_variant("e", "u1") in ("control", "treatment")
            detail = client.variation_detail("f", "u1")
            assert (detail.value, detail.reason) == (False, "DISABLED")

            def on_change(change: ChangeEvent) -> None:
                if "f" in change.keys:
                    loop.call_soon_threadsafe(changed.set)

            client.on_change(on_change)
            await asyncio.to_thread(put_flag, server, "f", {"enabled": True})
            await asyncio.wait_for(changed.wait(), 30)
            assert client.is_enabled("f", "u1") is True and client.all_flags("u1") == {"f": True}
            client.track("signup", "u1", properties={"plan": "pro"})
            assert await client.flush(30)
        await asyncio.to_thread(server.run, server.rt.pipeline.flush())
        events = await asyncio.to_thread(server.call, "GET", "/api/v1/events", params={"user_id": "u1"})
        # f has no guarded rollout: the client records no flag exposure for it (as the server)
        assert {e["name"] for e in events} == {"signup", "exposure"}
    finally:
        await asyncio.to_thread(server.stop)
