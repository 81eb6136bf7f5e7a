"""The alert rules and dashboards we ship read metrics the code exports, under the labels it gives
them, as Prometheus stores them.

Every ``experimently_*`` name in ``deploy/prometheus/alerts.yml`` and ``deploy/grafana/dashboards/``
must be a metric of the process (with its type's suffixes: ``_total``, ``_bucket`` / ``_count`` /
``_sum``), and every label an expression selects or groups by must be a label of a metric in that
expression or one Prometheus adds (``job``, ``instance``, the scrape config's ``role``; ``le``).
And no metric may carry a label Prometheus sets on every scraped series itself: a ``job`` label of
ours is stored as ``exported_job`` (the background jobs' metrics had one, so the failing-job alert
named every job "experimently")."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import experimently

ROOT = Path(__file__).resolve().parents[2]
TARGET_LABELS = {"job", "instance"}  # set by Prometheus on every scraped series
ADDED_LABELS = TARGET_LABELS | {"role", "le"}  # deploy/prometheus/prometheus.yml's role; histogram buckets
NAME = re.compile(r"\bexperimently_[a-z0-9_]+")
SELECTOR = re.compile(r"(experimently_[a-z0-9_]+|\bup)\{([^}]*)\}")
SELECTOR_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def _metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every metric the process defines: name -> (type, label names). Imports every module, as the
    domains are loaded on first use at run time."""
    for module in pkgutil.walk_packages(experimently.__path__, "experimently."):
        if ".migrations" in module.name or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    collectors: dict[Any, Any] = REGISTRY._collector_to_names  # no public listing of collectors
    for collector in list(collectors):
        name, kind = getattr(collector, "_name", None), getattr(collector, "_type", None)
        if isinstance(name, str) and name.startswith("experimently_") and isinstance(kind, str):
            found[name] = (
                kind,
                tuple(getattr(collector, "_labelnames", ())),
            )  # a counter's name without _total
    return found


METRICS = _metrics()


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every alert rule and dashboard panel target."""
    out: list[tuple[str, str]] = []
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            out.append((f"alerts.yml {rule.get('alert') or rule.get('record')}", str(rule["expr"])))

    def targets(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                out.append((where, node["expr"]))
            for value in node.values():
                targets(value, where)
        elif isinstance(node, list):
            for value in node:
                targets(value, where)

    for dashboard in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        targets(json.loads(dashboard.read_text()), dashboard.name)
    return out


EXPRESSIONS = _expressions()


def _base(series: str) -> str | None:
    """The metric a series name belongs to (``x_total`` -> counter ``x``), or None."""
    for suffix, kinds in (
        ("_total", {"counter"}),
        ("_bucket", {"histogram"}),
        ("_count", {"histogram"}),
        ("_sum", {"histogram"}),
    ):
        if series.endswith(suffix) and METRICS.get(series[: -len(suffix)], ("", ()))[0] in kinds:
            return series[: -len(suffix)]
    return series if series in METRICS and METRICS[series][0] == "gauge" else None


def test_the_shipped_files_have_expressions() -> None:
    assert len(EXPRESSIONS) > 30  # 11 alert rules and the two dashboards' panels
    assert len(METRICS) > 20


@pytest.mark.parametrize(("name", "labels"), sorted((n, v[1]) for n, v in METRICS.items()))
def test_no_metric_carries_a_label_prometheus_sets(name: str, labels: tuple[str, ...]) -> None:
    assert not set(labels) & TARGET_LABELS, f"{name} has {labels}: Prometheus renames them exported_*"
    assert not any(label.startswith("__") for label in labels)


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS)
def test_each_expression_reads_metrics_and_labels_the_code_exports(where: str, expr: str) -> None:
    names = NAME.findall(expr)
    bases = {name: _base(name) for name in names}
    assert all(bases.values()), f"{where}: no such metric (or wrong suffix for its type): {bases}"
    known = set(ADDED_LABELS)
    for base in bases.values():
        assert base is not None
        known |= set(METRICS[base][1])
    used: set[str] = set()
    for _, selector in SELECTOR.findall(expr):
        used |= set(SELECTOR_LABEL.findall(selector))
    for grouping in GROUPING.findall(expr):
        used |= {label.strip() for label in grouping.split(",") if label.strip()}
    assert used <= known, f"{where}: labels {sorted(used - known)} are on none of {sorted(set(names))}"
