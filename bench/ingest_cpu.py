"""Event ingestion, CPU per event per component, in one process (no HTTP, no load generator).

The throughput of ``bench/ingest.py`` depends on what else runs on the machine; CPU time per event
much less. This script measures, with ``time.process_time`` (and, for PostgreSQL, the CPU of the
server backend read from ``/proc``), what each stage of the pipeline costs per event on batches shaped
like the HTTP bench's (1,000 events per request, two properties):

- ``api_parse``: ``json.loads`` of one request body;
- ``api_validate``: ``EventIngest.validate`` (the per-event checks);
- ``api_encode``: the stream message (``repository.encode_rows``);
- ``sqlite_write``: ``repository.insert_batch`` of 10,000 rows on a migrated SQLite file, committed
  (what the embedded writer does), fresh event ids;
- ``pg_write_client`` / ``pg_write_server``: ``repository.insert_messages`` of ten messages (10,000
  rows) on PostgreSQL, committed (what a stream writer does), fresh ids; the writer process's CPU and
  its server backend's CPU.

Run it against two versions of the code to compare them (``PYTHONPATH=<other checkout>/src`` runs the
other one with the same script), interleaved, several times: the medians are what to compare.

    .venv/bin/python bench/ingest_cpu.py [--rounds 5] [--pg postgresql://...scratch db]
        [--pg-drop-index ix_events_name_seq]

``--pg`` is dropped and migrated anew (a scratch database only). Ends with one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from experimently import migrate
from experimently.config import Settings
from experimently.db import Database
from experimently.events import repository
from experimently.events.ingest import EventIngest
from experimently.events.pipeline import EmbeddedPipeline
from ingest import body  # the same 1,000-event batches as bench/ingest.py

TICK = os.sysconf("SC_CLK_TCK")
BATCH = 10_000


def per_event_us(run: Callable[[], Any], events: int, repeat: int = 5) -> float:
    started = time.process_time()
    for _ in range(repeat):
        run()
    return (time.process_time() - started) / (events * repeat) * 1e6


def proc_cpu(pid: int) -> float:
    """Seconds of CPU of process ``pid`` (a PostgreSQL backend): from ``/proc/<pid>/schedstat``
    (nanoseconds on the CPU) where the kernel has it, else from ``/proc/<pid>/stat`` (clock ticks of
    10 ms: 1 us per event at 10,000 events, too coarse to see one index)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK


def api_figures(settings: Settings) -> dict[str, float]:
    ingest = EventIngest(settings, EmbeddedPipeline.__new__(EmbeddedPipeline))
    raw = body(0)
    events = json.loads(raw)["events"]
    rows, _ = ingest.validate(events, "production")
    return {
        "api_parse": per_event_us(lambda: json.loads(raw), 1000, 50),
        "api_validate": per_event_us(lambda: ingest.validate(events, "production"), 1000, 20),
        "api_encode": per_event_us(lambda: repository.encode_rows(rows), 1000, 50),
    }


def rows_of(settings: Settings, round_: int) -> list[Any]:
    ingest = EventIngest(settings, EmbeddedPipeline.__new__(EmbeddedPipeline))
    rows: list[Any] = []
    for r in range(BATCH // 1000):
        rows += ingest.validate(json.loads(body(round_ * 100 + r))["events"], "production")[0]
    return rows


async def sqlite_figure(settings: Settings, rounds: int) -> list[float]:
    db = Database(settings)
    await migrate.upgrade(db.engine)
    out = []
    for round_ in range(rounds + 1):
        rows = rows_of(settings, round_)
        started = time.process_time()
        async with db.transaction() as session:
            stored = await repository.insert_batch(session, rows)
        assert stored == len(rows)
        if round_:  # the first round warms up (statement caches, page cache)
            out.append((time.process_time() - started) / len(rows) * 1e6)
    await db.dispose()
    return out


async def pg_figures(
    url: str, settings: Settings, rounds: int, drop: list[str]
) -> tuple[list[float], list[float]]:
    admin = create_async_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    db = Database(Settings(database_url=url, data_dir=settings.data_dir))
    await migrate.upgrade(db.engine)
    async with db.transaction() as session:
        for index in drop:  # what one index costs the writer (an experiment, not a schema change)
            await session.execute(text(f"DROP INDEX {index}"))
    client, server = [], []
    for round_ in range(rounds + 1):
        rows = rows_of(settings, round_)
        messages = [repository.encode_rows(rows[i : i + 1000]) for i in range(0, len(rows), 1000)]
        async with db.transaction() as session:
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
            before_server, started = proc_cpu(pid), time.process_time()
            stored = await repository.insert_messages(session, messages)
        used_client, used_server = time.process_time() - started, proc_cpu(pid) - before_server
        assert stored == len(rows)
        if round_:
            client.append(used_client / len(rows) * 1e6)
            server.append(used_server / len(rows) * 1e6)
    await db.dispose()
    return client, server


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL"), help="scratch PostgreSQL database")
    parser.add_argument(
        "--pg-drop-index",
        action="append",
        default=[],
        help="drop this index of the scratch database first (repeatable): the cost of one index",
    )
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-cpu-"))
    settings = Settings(data_dir=data_dir)
    result: dict[str, Any] = {k: round(v, 2) for k, v in api_figures(settings).items()}
    sqlite = await sqlite_figure(settings, args.rounds)
    result["sqlite_write"] = round(statistics.median(sqlite), 2)
    if args.pg:
        url = args.pg.replace("postgresql://", "postgresql+asyncpg://")
        client, server = await pg_figures(url, settings, args.rounds, args.pg_drop_index)
        result["pg_write_client"] = round(statistics.median(client), 2)
        result["pg_write_server"] = round(statistics.median(server), 2)
    for name, value in result.items():
        print(f"{name:16s} {value:7.2f} us CPU per event")
    print(f"load average {os.getloadavg()[0]:.2f} (figures are CPU time: load perturbs them less)")
    print(json.dumps({"bench": "ingest_cpu", "python": sys.version.split()[0], "us_per_event": result}))


if __name__ == "__main__":
    asyncio.run(main())
