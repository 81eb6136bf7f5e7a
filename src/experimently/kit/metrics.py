"""Prometheus counters on the hot path.

``Counter.inc`` of prometheus_client checks, on every call, that the metric has its label values
(three Python calls before the increment itself). The request path increments four or five counters
per answer, so for the labelled children it keeps (``functools.cache``) it binds the child's value
increment once instead: the same lock and the same value, read by every exporter as before
(``tests/foundation/test_metrics_kit.py`` checks the figures still move).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["incrementer"]


def incrementer(child: Any) -> Callable[[float], None]:
    """A callable adding its argument to a labelled counter child. The child's own ``inc`` when the
    library's internals are not the expected ones (a metric without labels, another version)."""
    value = getattr(child, "_value", None)
    inc = getattr(value, "inc", None)
    if callable(inc) and getattr(child, "_labelvalues", None):
        bound: Callable[[float], None] = inc
        return bound
    fallback: Callable[[float], None] = child.inc
    return fallback
