"""Every error code has its documented entry (cause and remedy), served by the server and kept in
docs/errors.md; every error body links to its entry."""

from __future__ import annotations

import re
from pathlib import Path

from experimently.error_docs import CATALOG, anchor, render_markdown
from experimently.errors import ErrorCode
from tests.conftest import Harness

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_error_code__has_cause_and_remedy() -> None:
    for code in ErrorCode:
        assert code in CATALOG, f"{code} has no entry in experimently.error_docs.CATALOG"
        entry = CATALOG[code]
        assert len(entry.cause) > 20 and len(entry.remedy) > 20, code


def test_docs_errors_md__has_an_anchor_per_code__and_is_current() -> None:
    text = DOCS.read_text()
    headings = set(re.findall(r"^## ([A-Z_]+)$", text, flags=re.MULTILINE))
    assert headings == {code.value for code in ErrorCode}
    assert text == render_markdown(), "regenerate: python -m experimently.error_docs > docs/errors.md"


async def test_error_body__documentation_url__resolves_to_its_entry(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/feature-flags/nope", headers=await harness.admin())
    error = response.json()["error"]
    assert error["documentation_url"] == "/api/errors#resource_not_found"
    for unauthenticated in (await harness.client.get("/api/v1/feature-flags"),):
        assert unauthenticated.json()["error"]["documentation_url"].endswith("#authentication_required")
    page = await harness.client.get(error["documentation_url"].split("#")[0])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for code in ErrorCode:
        assert f'id="{anchor(code)}"' in page.text
