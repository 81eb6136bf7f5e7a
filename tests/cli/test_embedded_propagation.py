"""Without Redis, a change made by another process on the same database reaches a running server
within about a second: the on-call engineer's kill switch from the CLI in the embedded shape."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experimently.cli import app
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import put_flag


def test_kill_from_the_cli__the_running_embedded_server_serves_off_within_seconds(
    tmp_path: Path, migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = copy_database(migrated_sqlite, tmp_path)
    server = LiveServer("sqlite", data_dir).start()  # no Redis: the embedded shape
    try:
        # Given a flag served on, and read (so the server holds its ruleset in memory)
        server.call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        put_flag(server, "f", {"enabled": True})
        key = server.sdk_key()

        def value() -> object:
            response = server.admin.post(
                "/api/v1/feature-flags/f/evaluate", json={"user_id": "u"}, headers={"X-API-Key": key}
            )
            assert response.status_code == 200, response.text
            return response.json()["data"]["value"]

        assert value() is True
        # When the on-call engineer kills it from the CLI, another process on the same database file
        for name in list(os.environ):
            if name.startswith("EXPERIMENTLY_") and not name.startswith("EXPERIMENTLY_TEST_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("EXPERIMENTLY_DATA_DIR", str(data_dir))
        assert server.settings.secret_key is not None
        monkeypatch.setenv("EXPERIMENTLY_SECRET_KEY", server.settings.secret_key.get_secret_value())
        monkeypatch.setenv("EXPERIMENTLY_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEY)
        killed = CliRunner().invoke(app, ["flags", "kill", "f", "--reason", "drill"], catch_exceptions=False)
        assert killed.exit_code == 0, killed.output
        thrown = time.monotonic()
        # Then the running server serves it off within a couple of seconds, not when its copy expires
        while value() is not False:
            assert time.monotonic() - thrown < 5, "the kill did not reach the running server"
            time.sleep(0.1)
    finally:
        server.stop()
