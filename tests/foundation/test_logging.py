"""Log lines carry the id of the request they were written for (``logging_setup.add_request_id``)."""

from __future__ import annotations

import contextvars
from typing import Any

from experimently.kit.context import RequestContext, set_current
from experimently.logging_setup import add_request_id


def _line(request: RequestContext | None, **fields: Any) -> dict[str, Any]:
    def write() -> dict[str, Any]:
        if request is not None:
            set_current(request)
        return dict(add_request_id(None, "info", {"event": "something", **fields}))

    return contextvars.copy_context().run(write)  # as a request's own task: nothing leaks out


def test_a_line_written_during_a_request_carries_its_id() -> None:
    assert _line(RequestContext("req-1", "10.0.0.1", "agent"))["request_id"] == "req-1"


def test_a_line_outside_any_request_has_no_id() -> None:
    assert "request_id" not in _line(None)


def test_an_id_given_by_the_caller_is_kept() -> None:
    assert _line(RequestContext("req-1"), request_id="explicit")["request_id"] == "explicit"
