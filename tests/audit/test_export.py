"""The audit trail as a download: every record matching the filters (no page limit), in CSV or NDJSON,
read as the reader reads the trail (labels; webhook URLs redacted for analysts), cells a spreadsheet
would run as formulas defused, and the export itself recorded."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from experimently.audit import service
from tests.conftest import Harness

EXPORT = "/api/v1/audit-logs/export"
SLACK = "https://hooks.slack.com/services/T000/B000/very-secret-token"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _changes(h: Harness) -> None:
    admin = await h.admin()
    for name in ("web", "batch", "mobile"):
        body = {"name": name, "environment": "staging", "scopes": ["evaluate"]}
        assert (await h.client.post("/api/v1/api-keys", json=body, headers=admin)).status_code == 201
    assert (await h.client.post("/api/v1/webhooks", json={"url": SLACK}, headers=admin)).status_code == 201
    variants = [{"key": "a", "weight": 50, "is_control": True}, {"key": "b", "weight": 50}]
    experiment: dict[str, Any] = {"key": "exp", "name": "Exp", "variants": variants}
    assert (await h.client.post("/api/v1/experiments", json=experiment, headers=admin)).status_code == 201
    started = await h.client.post("/api/v1/experiments/exp/start", json={"reason": "=1+1"}, headers=admin)
    assert started.status_code == 200, started.text


async def test_analyst__csv_of_every_record__labelled__redacted__formulas_defused(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    await _changes(h)
    analyst, _ = await h.user("analyst", "ana@example.com")
    monkeypatch.setattr(service, "EXPORT_PAGE", 3)  # several pages: keyset paging must lose nothing
    expected = await h.audit()
    response = await h.client.get(EXPORT, headers=analyst)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="experimently-audit-')
    rows = _csv(response.text)
    # newest first, none missing: the export's own record (written before the first byte), then the rest
    assert rows[0]["action"] == "audit.exported"
    assert [int(r["id"]) for r in rows[1:]] == [r["id"] for r in expected]
    assert list(rows[0]) == list(service.CSV_COLUMNS)
    assert "very-secret-token" not in response.text  # an analyst may not manage webhooks
    keys = [r for r in rows if r["action"] == "api_key.created"]
    assert {r["resource_label"] for r in keys} == {"web", "batch", "mobile"}
    assert json.loads(keys[0]["after"])["environment"] == "staging"
    [start] = [r for r in rows if r["action"] == "experiment.start"]
    assert start["reason"] == "'=1+1" and start["resource_label"] == "exp"


async def test_filters__a_kind_with_star__several_actions__ndjson(harness: Harness) -> None:
    h = harness
    await _changes(h)
    admin = await h.admin()
    kind = await h.client.get(EXPORT, params={"action": "api_key.*", "format": "ndjson"}, headers=admin)
    assert kind.status_code == 200 and kind.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in kind.text.splitlines()]
    assert len(records) == 3 and {r["action"] for r in records} == {"api_key.created"}
    assert SLACK not in kind.text
    several = await h.client.get(
        "/api/v1/audit-logs", params={"action": "webhook.created,experiment.start"}, headers=admin
    )
    assert sorted(r["action"] for r in several.json()["data"]) == ["experiment.start", "webhook.created"]
    # the admin manages webhooks: the URL whole
    hooks = await h.client.get(EXPORT, params={"action": "webhook.*", "format": "ndjson"}, headers=admin)
    assert json.loads(hooks.text.splitlines()[0])["after"]["url"] == SLACK
    # a LIKE wildcard in a filter is taken literally
    none = await h.client.get(EXPORT, params={"action": "%.*", "format": "ndjson"}, headers=admin)
    assert none.text == ""


async def test_export__recorded__viewer_refused(harness: Harness) -> None:
    h = harness
    viewer, _ = await h.user("viewer", "vic@example.com")
    refused = await h.client.get(EXPORT, headers=viewer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "PERMISSION_DENIED"
    analyst, analyst_id = await h.user("analyst", "ana@example.com")
    ok = await h.client.get(EXPORT, params={"action": "user.*", "format": "csv"}, headers=analyst)
    assert ok.status_code == 200
    [recorded] = await h.audit(action="audit.exported")
    assert recorded["actor_id"] == analyst_id
    assert recorded["after"] == {"format": "csv", "filters": {"action": "user.*"}}
    bad = await h.client.get(EXPORT, params={"format": "xlsx"}, headers=analyst)
    assert bad.status_code == 422


async def test_action_filter__a_pattern_it_does_not_have__422_not_an_empty_list(harness: Harness) -> None:
    h = harness
    # "user.mfa_*" and "*" matched nothing and answered 200 with no records: an auditor read "none"
    admin = await h.admin()
    for spec in ("user.mfa_*", "*", ".*", "flag.killed,*.created"):
        for path in ("/api/v1/audit-logs", EXPORT):
            refused = await h.client.get(path, params={"action": spec}, headers=admin)
            assert refused.status_code == 422, (spec, path, refused.text)
            assert refused.json()["error"]["details"]["errors"][0]["path"] == "action"
    kind = await h.client.get("/api/v1/audit-logs", params={"action": "user.*,flag.killed"}, headers=admin)
    assert kind.status_code == 200
