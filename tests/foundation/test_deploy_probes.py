"""The probes we ship never follow a shared dependency: a readiness probe on ``/ready`` would take every
replica out of service at once during a PostgreSQL or Redis outage, while each keeps serving from what
it holds (docs/operations.md, "Probes")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _probes(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PROBES and isinstance(value, dict):
                yield key, value
            else:
                yield from _probes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _probes(item)


def test_kubernetes_probes__health_only() -> None:
    seen = []
    for manifest in sorted((ROOT / "deploy/kubernetes").rglob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text()):
            for kind, probe in _probes(document):
                path = probe.get("httpGet", {}).get("path")
                if path is not None:
                    seen.append((manifest.name, kind, path))
    assert ("serve.yaml", "readinessProbe", "/health") in seen, seen
    assert all(path == "/health" for _, _, path in seen), seen


def test_docker_healthcheck__health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "/health" in dockerfile and "/ready" not in dockerfile
