"""``export`` / ``import``: flags, segments, metrics and experiments as one YAML document, so the
configuration can live in git and be reviewed like code.

The document holds what a person decides (keys, names, rules, variations, metric definitions), never
what the server decides (ids, versions, owners, timestamps, status). ``import`` compares each item with
what the database holds and creates or updates only what differs, through the domain services, so
rules, audit records (as the CLI actor) and cache invalidation apply; importing the same document twice
changes nothing the second time. ``--dry-run`` prints the diff, checks every item as the import would
(refusing what it would refuse) and writes nothing. Everything is applied
in one transaction: a refused item leaves the database as it was. Nothing is deleted: an item missing
from the document is left alone. Archived flags are not exported; an experiment's lifecycle (start,
pause) is not part of the document (use ``experiments start|pause``).
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from experimently.cli.common import EXIT_CONFIG, cli_actor, run, stop

FORMAT_VERSION = 1
KINDS = ("segments", "metrics", "flags", "experiments")  # the order they are applied in

SEGMENT_FIELDS = ("key", "name", "description", "conditions")
METRIC_FIELDS = (
    "key",
    "name",
    "description",
    "kind",
    "event_name",
    "numerator_aggregation",
    "denominator_event",
    "denominator_aggregation",
    "conditions",
    "attribution_window_hours",
    "direction",
    "winsorize_cap",
    "cuped_pre_window_days",
    "format",
)
FLAG_FIELDS = ("key", "name", "description", "tags", "type", "variations", "environments", "salt")
EXPERIMENT_FIELDS = (
    "key",
    "name",
    "hypothesis",
    "description",
    "tags",
    "variants",
    "traffic_allocation",
    "targeting",
    "bucket_by",
    "environment",
    "layer",
    "layer_share",
    "primary_metric",
    "secondary_metrics",
    "guardrail_metrics",
    "guardrail_action",
    "planned_start",
    "planned_end",
    "min_sample_size",
)


def _plain(value: Any) -> Any:
    """Enums to strings, datetimes to ISO strings: what YAML writes and reads back unchanged."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and type(value).__module__ != "builtins":
        return value.value
    return value


def _pick(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: _plain(getattr(obj, f)) for f in fields}


def _experiment_doc(exp: Any) -> dict[str, Any]:
    from experimently.experiments.service import LAYER_BUCKETS

    values = {
        f: _plain(getattr(exp, f, None)) for f in EXPERIMENT_FIELDS if f not in ("layer", "layer_share")
    }
    values["layer"] = exp.layer_key
    values["layer_share"] = (
        round((exp.layer_range_end - exp.layer_range_start) * 100 / LAYER_BUCKETS, 6)
        if exp.layer_key
        else None
    )
    return {f: values[f] for f in EXPERIMENT_FIELDS}


async def current_state(session: Any) -> dict[str, list[dict[str, Any]]]:
    """The database's configuration in the document's shape, each list sorted by key."""
    from experimently.experiments.service import list_experiments
    from experimently.flags.service import list_flags
    from experimently.metrics.service import list_metrics
    from experimently.segments.service import list_all

    actor = cli_actor()
    segments = [_pick(s, SEGMENT_FIELDS) for s in await list_all(session, actor)]
    metrics = [_pick(m, METRIC_FIELDS) for m in await _all_metrics(session, actor, list_metrics)]
    flags = [
        _pick(f, FLAG_FIELDS)
        for f in await _paged(list_flags, session, actor, archived=False, text=None, tag=None)
    ]
    experiments = [
        _experiment_doc(e)
        for e in await _paged(
            list_experiments, session, actor, status=None, owner=None, tag=None, text=None, sort="created_at"
        )
    ]
    state = {"segments": segments, "metrics": metrics, "flags": flags, "experiments": experiments}
    return {kind: sorted(items, key=lambda item: str(item["key"])) for kind, items in state.items()}


async def _paged(fn: Any, session: Any, actor: Any, **filters: Any) -> list[Any]:
    found: list[Any] = []
    while True:
        rows, total = await fn(session, actor, limit=500, offset=len(found), **filters)
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


async def _all_metrics(session: Any, actor: Any, list_metrics: Any) -> list[Any]:
    import inspect

    params = inspect.signature(list_metrics).parameters
    if "limit" in params:
        return await _paged(list_metrics, session, actor)
    result = await list_metrics(session, actor)
    return list(result[0] if isinstance(result, tuple) else result)


def dump(state: dict[str, Any]) -> str:
    import yaml  # here, not at the top: every CLI command (serve too) imports this module

    text: str = yaml.safe_dump(
        {"version": FORMAT_VERSION, **state}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return text


def export_config(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write flags, segments, metrics and experiments as YAML."""

    async def body(runtime: Any) -> str:
        async with runtime.db.transaction() as session:
            return dump(await current_state(session))

    text = run(body)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        stop(f"cannot write {output}: {exc.strerror}", EXIT_CONFIG)
    typer.echo(f"exported to {output}", err=True)


def _load(path: Path) -> dict[str, list[dict[str, Any]]]:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text()) if str(path) != "-" else yaml.safe_load(sys.stdin.read())
    except OSError as exc:
        stop(f"cannot read {path}: {exc.strerror}", EXIT_CONFIG)
    except yaml.YAMLError as exc:
        stop(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", EXIT_CONFIG)
    if not isinstance(doc, dict):
        stop(f"{path}: expected a mapping with {', '.join(KINDS)}", EXIT_CONFIG)
    if doc.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        stop(
            f"{path}: format version {doc.get('version')} is not supported (expected {FORMAT_VERSION})",
            EXIT_CONFIG,
        )
    unknown = set(doc) - {"version", *KINDS}
    if unknown:
        stop(f"{path}: unknown section(s) {', '.join(sorted(unknown))}", EXIT_CONFIG)
    result: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        items = doc.get(kind) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("key") for i in items):
            stop(f"{path}: '{kind}' must be a list of mappings, each with a key", EXIT_CONFIG)
        result[kind] = items
    return result


def _diff(kind: str, key: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    import yaml

    old = yaml.safe_dump(before, sort_keys=True).splitlines() if before else []
    new = yaml.safe_dump(after, sort_keys=True).splitlines()
    label = f"{kind}/{key}"
    return "\n".join(difflib.unified_diff(old, new, f"a/{label}", f"b/{label}", lineterm=""))


async def _apply(
    session: Any, cache: Any, kind: str, key: str, want: dict[str, Any], have: Any | None
) -> None:
    """Create or update one item through its domain service."""
    actor = cli_actor()
    fields = {k: v for k, v in want.items() if k != "key"}
    if kind == "segments":
        from experimently.segments import service as segments
        from experimently.segments.schemas import SegmentCreate, SegmentUpdate

        if have is None:
            await segments.create(session, cache, actor, SegmentCreate(key=key, **fields))
        else:
            await segments.update(session, cache, actor, key, SegmentUpdate(version=have.version, **fields))
    elif kind == "metrics":
        from experimently.metrics import service as metrics
        from experimently.metrics.schemas import MetricCreate, MetricUpdate

        if have is None:
            await metrics.create(session, actor, MetricCreate(key=key, **fields))
        else:
            await metrics.update(session, actor, key, MetricUpdate(version=have.version, **fields))
    elif kind == "flags":
        from experimently.flags import service as flags
        from experimently.flags.schemas import FlagCreate, FlagUpdate

        if have is None:
            await flags.create(session, cache, actor, FlagCreate(key=key, **fields))
        else:
            await flags.update(session, cache, actor, key, FlagUpdate(version=have.version, **fields))
    else:
        from experimently.experiments import service as experiments
        from experimently.experiments.schemas import ExperimentCreate, ExperimentUpdate

        if have is None:
            await experiments.create(session, cache, actor, ExperimentCreate(key=key, **fields))
        else:
            await experiments.update(
                session, cache, actor, key, ExperimentUpdate(version=have.version, **fields)
            )


async def _existing(session: Any, kind: str, key: str) -> Any | None:
    from experimently.errors import NotFound

    actor = cli_actor()
    try:
        if kind == "segments":
            from experimently.segments.service import get as get_segment

            return await get_segment(session, actor, key)
        if kind == "metrics":
            from experimently.metrics.service import get as get_metric

            return await get_metric(session, actor, key)
        if kind == "flags":
            from experimently.flags.service import get as get_flag

            return await get_flag(session, actor, key)
        from experimently.experiments.service import get as get_experiment

        return await get_experiment(session, actor, key)
    except NotFound:
        return None


class _DryRun(Exception):  # not an error: how a dry run leaves its transaction
    """Raised at the end of a dry run: its transaction rolls back the way a refused item's does, and
    nothing meant for after the commit (cache invalidation) runs."""


async def _import(session: Any, cache: Any, doc: dict[str, list[dict[str, Any]]]) -> tuple[int, int, int]:
    """Create or update what differs; returns (created, updated, unchanged)."""
    from experimently.errors import AppError

    created = updated = unchanged = 0
    current = await current_state(session)
    for kind in KINDS:
        have_by_key = {item["key"]: item for item in current[kind]}
        for want in doc[kind]:
            key = str(want["key"])
            before = have_by_key.get(key)
            merged = {**(before or {}), **_plain(want)}
            if before == merged:
                unchanged += 1
                continue
            typer.echo(_diff(kind, key, before, merged))
            if before is None:
                created += 1
            else:
                updated += 1
            # an update sends only what differs: unchanged fields may be frozen (a running
            # experiment's variants, a flag's type). A dry run applies too, so it refuses what the
            # import would refuse, and then rolls everything back.
            fields = (
                merged
                if before is None
                else {k: v for k, v in merged.items() if k == "key" or before.get(k) != v}
            )
            existing = await _existing(session, kind, key)
            try:
                await _apply(session, cache, kind, key, fields, existing)
            except AppError as exc:  # say which item of the file was refused, not only why
                exc.message = f"{kind.removesuffix('s')} '{key}': {exc.message}"
                exc.args = (exc.message,)
                raise
    return created, updated, unchanged


def import_config(
    path: Annotated[Path, typer.Argument(help="the YAML file ('-' for stdin)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the diff, change nothing")] = False,
) -> None:
    """Create or update flags, segments, metrics and experiments from YAML (idempotent; audited)."""
    doc = _load(path)

    async def body(runtime: Any) -> tuple[int, int, int]:
        with contextlib.suppress(_DryRun):
            async with runtime.db.transaction() as session:
                counts = await _import(session, runtime.cache, doc)
                if dry_run:
                    raise _DryRun
        return counts

    created, updated, unchanged = run(body)
    verb = "would create" if dry_run else "created"
    verb2 = "would update" if dry_run else "updated"
    typer.echo(
        f"{verb} {created}, {verb2} {updated}, unchanged {unchanged}"
        + (" (dry run: nothing written)" if dry_run else "")
    )
