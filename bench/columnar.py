"""The aggregation from scratch in a columnar engine, on the same data: what the budget of issue #19
(10M events / 1M users in <= 3 s) would take, measured beside PostgreSQL instead of argued.

Run (after ``bench/results.py`` has created and filled its database, and ``bench/aggregation.py``
has aggregated it, which ``bench/results.py`` does):

    .venv/bin/python bench/columnar.py [--runs 3] [--threads 2] [--database-url URL]

It exports, untimed, the narrow store that ``bench/aggregation.py --floor`` times in PostgreSQL (every
unit a dense ``int4``; the metrics' events as ``(unit, name, ts_us, value)`` in arrival order) plus the
experiment's exposures in the same form, as CSV into a temporary directory; loads them into an
in-memory DuckDB (pinned in ``bench/columnar-requirements.txt``, installed by the first run into
``.venv-columnar`` with ``uv``, never into ``.venv``: the product does not depend on it); and times two
statements there, each ``--runs`` times:

- ``pass``: ``bench/aggregation.py``'s floor statement, word for word but for integer division (the
  first exposures given, as in PostgreSQL's floor);
- ``from_scratch``: the same with the first exposures computed from the exposures in the statement.

Both results must equal the statistics PostgreSQL stored (checked, to rounding, as the floor is). A
DuckDB figure is what a vectorised, columnar engine does with the computation; it is not a design for
the product (which would need a second event store: loading, erasure, retention, conditions on
properties). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".venv-columnar"
sys.path.insert(0, str(HERE))

from aggregation import (  # noqa: E402  (the bench directory is not a package)
    FLOOR_PARAMS,
    FLOOR_PASS,
    FLOOR_TABLES,
    FLOOR_TRIM,
    KEY,
    floor_matches,
)
from experimently.kit.clock import DAY_US  # noqa: E402
from experimently.metrics.aggregation import load_snapshot  # noqa: E402

EXPOSURES = """CREATE UNLOGGED TABLE bench_floor.exposures AS
   SELECT x.u, e.ts_us, (CASE WHEN e.variant = 'treatment' THEN 1 ELSE 0 END)::int2 AS v
   FROM events e JOIN bench_floor.units x ON x.user_id = e.user_id
   WHERE e.name = 'exposure' AND e.experiment_key = :key AND e.ts_us >= :start
   ORDER BY e.seq"""
TABLES = {
    "units": "{'u': 'INTEGER', 'x': 'BIGINT', 'v': 'SMALLINT'}",
    "facts": "{'u': 'INTEGER', 'n': 'SMALLINT', 'ts_us': 'BIGINT', 'value': 'DOUBLE'}",
    "exposures": "{'u': 'INTEGER', 'ts_us': 'BIGINT', 'v': 'SMALLINT'}",
}
# DuckDB's / divides exactly; PostgreSQL's divides integers
PASS = FLOOR_PASS.replace(f"x / {DAY_US}", f"x // {DAY_US}")
assert PASS != FLOOR_PASS
# the first exposures computed in the statement, as bench_floor.units holds them
FROM_SCRATCH = (
    "WITH units AS (SELECT u, MIN(ts_us) AS x, MIN(v) AS v FROM bench_floor.exposures GROUP BY u)"
    + (PASS.replace("JOIN bench_floor.units x", "JOIN units x"))
)
assert "JOIN units x" in FROM_SCRATCH

# run by .venv-columnar's Python: argv directory, runs, threads; the two statements as JSON on stdin
RUNNER = """
import json, sys, time
import duckdb
directory, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
statements = json.load(sys.stdin)
db = duckdb.connect()
db.execute(f"SET threads = {threads}")
db.execute("CREATE SCHEMA bench_floor")
began = time.perf_counter()
for table, columns in statements["tables"].items():
    db.execute(
        f"CREATE TABLE bench_floor.{table} AS SELECT * FROM "
        f"read_csv('{directory}/{table}.csv', header = false, columns = {columns})"
    )
out = {"version": duckdb.__version__, "load_s": time.perf_counter() - began}
for name in ("pass", "from_scratch"):
    walls, rows = [], []
    for _ in range(runs):
        began = time.perf_counter()
        rows = db.execute(statements[name]).fetchall()
        walls.append(time.perf_counter() - began)
    out[name] = {"walls": walls, "rows": rows}
print(json.dumps(out, default=float))
"""


def columnar_python() -> Path:
    """``.venv-columnar``'s Python, with DuckDB (created and filled on first use)."""
    python = VENV / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    if not python.exists():
        subprocess.run([str(uv), "venv", "-q", str(VENV), "--python", sys.executable], check=True)
    requirements = HERE / "columnar-requirements.txt"
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--python", str(python), "-r", str(requirements)], check=True
    )
    return python


async def export(url: str, directory: Path) -> tuple[Any, int]:
    """The narrow tables as CSV files in ``directory`` (built in PostgreSQL, then dropped); returns the
    stored statistics and how many events the database holds."""
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        stats = await load_snapshot(session, KEY)
        assert stats is not None, "run bench/results.py first"
        events = int(await session.scalar(text("SELECT count(*) FROM events")) or 0)
        for statement in [*FLOOR_TABLES, EXPOSURES, FLOOR_TRIM]:
            await session.execute(text(statement), FLOOR_PARAMS)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table in TABLES:
            await connection.copy_from_table(
                table, schema_name="bench_floor", output=str(directory / f"{table}.csv"), format="csv"
            )
    finally:
        await connection.execute("DROP SCHEMA bench_floor CASCADE")
        await connection.close()
    await engine.dispose()
    return stats, events


def main(args: argparse.Namespace) -> None:
    python = columnar_python()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        stats, events = asyncio.run(export(args.database_url, directory))
        statements = {"tables": TABLES, "pass": PASS, "from_scratch": FROM_SCRATCH}
        done = subprocess.run(
            [str(python), "-c", RUNNER, str(directory), str(args.runs), str(args.threads)],
            input=json.dumps(statements),
            capture_output=True,
            text=True,
            check=True,
        )
    out = json.loads(done.stdout)
    figures: dict[str, Any] = {}
    print(f"DuckDB {out['version']}, {args.threads} threads, loaded in {out['load_s']:.2f} s (not timed)")
    for name, label in (("pass", "the pass, first exposures given"), ("from_scratch", "from scratch")):
        walls = out[name]["walls"]
        matches = floor_matches(out[name]["rows"], stats)
        print(f"{label}: {', '.join(f'{w:.2f}' for w in walls)} s; equal to the stored statistics: {matches}")
        figures |= {f"{name}_median_s": round(statistics.median(walls), 3), f"{name}_equals_stored": matches}
    print(
        json.dumps(
            {
                "bench": "columnar",
                "engine": "duckdb",
                "version": out["version"],
                "threads": args.threads,
                "cpus": os.cpu_count(),
                "events": events,
                "units": sum(stats.units.values()),
                "runs": args.runs,
                **figures,
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "EXPERIMENTLY_BENCH_DATABASE_URL",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/experimently_bench_results",
        ),
    )
    main(parser.parse_args())
