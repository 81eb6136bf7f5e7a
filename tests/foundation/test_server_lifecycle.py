"""A serving process says when it starts and when it stops, one line each way (the log of a deploy or
a crash loop shows the processes come and go; uvicorn itself logs at warning level only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experimently import app as app_module
from tests.sdk.live import LiveServer, copy_database


class Recorder:
    """Stands in for the lifecycle logger: what it was told (the output itself is structlog's)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


def test_start_and_stop__one_line_each(
    tmp_path: Path, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(app_module, "lifecycle", recorder)
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    server.stop()
    assert [event for event, _ in recorder.lines] == ["serve.started", "serve.stopping", "serve.stopped"]
    started = recorder.lines[0][1]
    assert started["pid"] and started["embedded"] is True and started["jobs"] is False
