"""``experimently serve`` imports what its first request needs and nothing else (start-up time, issue
#17): a restart on an embedded database must not import Alembic, the PostgreSQL dialect, the other CLI
commands, the domain routers (imported on their first request) or the statistics stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# `experimently serve` as the console script runs it, except that uvicorn's server, instead of serving,
# runs the application's lifespan (start and stop) and prints the modules the process has imported.
SERVE = """
import asyncio, gc, json, sys
import uvicorn

def run(self, sockets=None):
    app = self.config.app
    assert gc.isenabled() and gc.get_freeze_count() > 0, "the collector is back, start-up frozen"

    async def lifespan():
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(lifespan())
    print(json.dumps(sorted(sys.modules)))

uvicorn.Server.run = run
sys.argv = ["experimently", "serve", "--port", "1"]
from experimently.cli import main
main()
"""

NEVER_ON_RESTART = (
    "alembic",  # the schema is at the head: nothing to apply
    "sqlalchemy.dialects.postgresql",  # embedded SQLite
    "experimently.cli.accounts",  # other commands
    "experimently.cli.config_io",
    "experimently.cli.doctor",
    "experimently.cli.domain",
    "experimently.flags.router",  # routers: on the first request under their path
    "experimently.sdk.router",
    "experimently.experiments.router",
    "experimently.analysis.router",
    "experimently.auth.router",
    "scipy",  # statistics: when first computed
    "numpy",
    "redis",  # no Redis URL
    "yaml",
)


def _serve_modules(data_dir: Path) -> set[str]:
    env = {"EXPERIMENTLY_DATA_DIR": str(data_dir), "EXPERIMENTLY_LOG_LEVEL": "WARNING", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", SERVE], capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"serve exited with {done.returncode}: {done.stderr[-3000:]}"
    # a thread left working when the loop closed (a job cancelled mid-connect) reports here
    assert "Exception in thread" not in done.stderr, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_serve__restart__imports_only_what_serving_needs(tmp_path: Path) -> None:
    # Given a first start (which creates the schema: Alembic is needed then)
    first = _serve_modules(tmp_path)
    assert "alembic" in first
    assert "experimently.app" in first
    # When the server restarts on the same data directory
    again = _serve_modules(tmp_path)
    # Then it builds the app and runs its lifespan without importing any of these
    assert "experimently.app" in again and "experimently.wiring" in again
    assert sorted(name for name in NEVER_ON_RESTART if name in again) == []
