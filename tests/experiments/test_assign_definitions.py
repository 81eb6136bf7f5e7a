"""Stored experiment definitions read back for assignment: targeting is parsed with the SDK's public
parser, which raises; an experiment whose stored targeting no longer parses is left out (and logged)
instead of being assigned with its broken conditions silently dropped, or failing every experiment."""

from __future__ import annotations

from typing import Any

import pytest

from experimently.errors import NotFound
from experimently.experiments import assign, repository
from experimently.experiments.service import NAMESPACE
from tests.conftest import Harness
from tests.experiments.test_api import act, create


async def test_stored_targeting_that_does_not_parse__left_out_and_logged(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two running experiments, one of whose stored targeting was damaged after it was saved
    for key in ("healthy", "damaged"):
        await create(harness, key, targeting=[{"attribute": "country", "operator": "eq", "values": ["DE"]}])
        assert (await act(harness, key, "start")).status_code == 200
    async with harness.runtime.db.transaction() as session:
        damaged = await repository.get_experiment(session, "damaged")
        assert damaged is not None
        damaged.targeting = [{"attribute": "country", "operator": "bogus", "values": ["DE"]}]
    await harness.runtime.cache.invalidate(NAMESPACE)

    # When assignment loads the definitions
    logs: list[dict[str, Any]] = []
    monkeypatch.setattr(assign.log, "error", lambda event, **fields: logs.append({"event": event, **fields}))
    definitions = await harness.runtime.assignments.definitions()

    # Then the damaged one is out, with an error naming it and the path; the healthy one is served
    assert sorted(definitions) == ["healthy"]
    errors = [e for e in logs if e["event"] == "experiment.targeting_invalid"]
    assert errors[0]["experiment_key"] == "damaged"
    assert errors[0]["errors"][0][0] == "conditions[0].operator"
    with pytest.raises(NotFound):
        await harness.runtime.assignments.experiment("damaged")
