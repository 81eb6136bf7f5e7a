"""How long the garbage collector stops the process: ``experimently_gc_pause_seconds{generation}``.

A collection runs on the event loop's thread and stops every request in flight; a full collection over
a large heap is one known cause of rare latency spikes (issue #19). Only collections of 1 ms or more
are observed, so the callback costs one clock read and a comparison on the frequent short ones.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSE = Histogram(
    "experimently_gc_pause_seconds",
    "Garbage collections of 1 ms or more, by generation",
    ["generation"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
THRESHOLD = 0.001
_children = [GC_PAUSE.labels(str(g)) for g in range(3)]
_started = [0.0]


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    elapsed = time.perf_counter() - _started[0]
    if elapsed >= THRESHOLD:
        _children[info["generation"]].observe(elapsed)


def install() -> None:
    """Observe collections from now on (idempotent)."""
    if _callback not in gc.callbacks:
        gc.callbacks.append(_callback)
