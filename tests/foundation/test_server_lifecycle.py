"""A serving process says when it starts and when it stops, one line each way (the log of a deploy or
a crash loop shows the processes come and go; uvicorn itself logs at warning level only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from experimently import app as app_module
from tests.sdk.live import LiveServer, copy_database


def test_start_and_stop__one_line_each(
    tmp_path: Path, migrated_sqlite: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a logger caches its level at first use (as a process configures logging once): a fresh one, so
    # an earlier test's WARNING level does not hide these INFO lines
    monkeypatch.setattr(app_module, "lifecycle", structlog.get_logger("experimently.server"))
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path), log_level="INFO").start()
    server.stop()
    events = []
    for line in capfd.readouterr().err.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if str(record.get("event", "")).startswith("serve."):
                events.append(record)
    assert [e["event"] for e in events] == ["serve.started", "serve.stopping", "serve.stopped"]
    assert events[0]["pid"] and events[0]["embedded"] is True
