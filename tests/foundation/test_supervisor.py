"""A server worker whose supervisor is gone stops (``serve --workers N`` killed with SIGKILL left its
workers serving the port, and the restart failed with "address already in use")."""

from __future__ import annotations

import asyncio
import os

import pytest

from experimently.kit import supervisor


async def test_supervisor_gone__the_worker_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(supervisor.SUPERVISOR_ENV, str(os.getppid() + 100_000))  # not our parent
    stopped: list[bool] = []
    await asyncio.wait_for(supervisor.watch(interval=0.01, on_gone=lambda: stopped.append(True)), 2)
    assert stopped == [True]


async def test_supervisor_alive__the_worker_serves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(supervisor.SUPERVISOR_ENV, str(os.getppid()))
    stopped: list[bool] = []
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(supervisor.watch(interval=0.01, on_gone=lambda: stopped.append(True)), 0.2)
    assert stopped == []


async def test_no_supervisor__nothing_to_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(supervisor.SUPERVISOR_ENV, raising=False)
    await asyncio.wait_for(supervisor.watch(on_gone=lambda: pytest.fail("no supervisor")), 1)
