"""A server worker whose supervisor died stops too.

``serve --workers N`` runs uvicorn's supervisor with N worker processes. When the supervisor is killed
outright (``SIGKILL``, the OOM killer), the workers are not told: they would keep the port and serve
on, unsupervised, and the restart the runbook says to run would fail with "address already in use".
The supervisor names itself in ``EXPERIMENTLY_SUPERVISOR_PID``; each worker checks once a second that
it is still its parent and, when not, stops as on ``SIGTERM`` (in-flight requests finish).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

SUPERVISOR_ENV = "EXPERIMENTLY_SUPERVISOR_PID"


def _stop_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


async def watch(interval: float = 1.0, on_gone: Callable[[], None] = _stop_self) -> None:
    """Returns at once when this process has no supervisor to watch; else when the supervisor is gone
    (after ``on_gone``)."""
    expected = os.environ.get(SUPERVISOR_ENV)
    if not expected or not expected.isdigit() or int(expected) == os.getpid():
        return
    while True:  # polled: the kernel tells a child nothing when its parent dies
        if os.getppid() != int(expected):
            break
        await asyncio.sleep(interval)
    log.warning("serve.supervisor_gone", supervisor_pid=int(expected), action="stopping this worker")
    on_gone()
