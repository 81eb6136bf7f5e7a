"""NUL characters and lone surrogates are refused with 422 and a path, in one place, on both backends."""

from __future__ import annotations

import pytest

from experimently.input_guard import _json_suspect, _number_suspect, bad_text_paths
from tests.conftest import Harness

FLAGS = "/api/v1/feature-flags"
JSON = {"Content-Type": "application/json"}


def _errors(response: object) -> list[dict[str, str]]:
    body = response.json()  # type: ignore[attr-defined]  # an httpx.Response
    assert body["error"]["code"] == "VALIDATION_ERROR"
    errors: list[dict[str, str]] = body["error"]["details"]["errors"]
    return errors


async def test_login_form__nul_in_username__422_with_path(harness: Harness) -> None:
    # Given the unauthenticated login form, When a username carries a NUL
    response = await harness.client.post(
        "/api/v1/auth/token", data={"username": "admin\x00@example.com", "password": "x"}
    )
    # Then 422 VALIDATION_ERROR names the field (never a 500 from the database)
    assert response.status_code == 422, response.text
    assert _errors(response)[0]["path"] == "username"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


async def test_list_filter__nul_in_query__422_with_path(harness: Harness) -> None:
    response = await harness.client.get(FLAGS, params={"q": "a\x00b"}, headers=await harness.admin())
    assert response.status_code == 422, response.text
    assert _errors(response)[0]["path"] == "q"
    tag = await harness.client.get(FLAGS, params={"tag": "\x00"}, headers=await harness.admin())
    assert tag.status_code == 422 and _errors(tag)[0]["path"] == "tag"


async def test_path_parameter__nul__422(harness: Harness) -> None:
    response = await harness.client.get(f"{FLAGS}/a%00b", headers=await harness.admin())
    assert response.status_code == 422, response.text
    assert _errors(response)[0]["path"] == "path"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ('{"key": "k1", "name": "x", "tags": ["ok", "bad\\u0000"]}', "tags[1]"),
        ('{"key": "k2", "name": "x", "tags": ["\\ud800"]}', "tags[0]"),
        ('{"key": "k3", "name": "x", "tags": ["\\udc00\\ud800"]}', "tags[0]"),
        ('{"key": "k4", "name": "x\\ud83dx"}', "name"),
        ('{"key": "k5", "name": "x", "description": {"\\u0000": 1}}', "description.\x00"),
    ],
)
async def test_json_body__nul_or_lone_surrogate__422_with_path(harness: Harness, raw: str, path: str) -> None:
    # Given a JSON body with NUL or a lone surrogate anywhere (values or keys)
    response = await harness.client.post(FLAGS, content=raw, headers={**JSON, **await harness.admin()})
    # Then 422 with the exact path, on SQLite and on PostgreSQL alike
    assert response.status_code == 422, response.text
    assert _errors(response)[0]["path"] == path
    listed = await harness.client.get(FLAGS, headers=await harness.admin())
    assert listed.json()["data"] == []


async def test_json_body__valid_pair_and_escaped_backslash__accepted(harness: Harness) -> None:
    # Given an escaped emoji (a valid surrogate pair) and the six characters backslash-u-0-0-0-0
    raw = '{"key": "ok", "name": "smile \\ud83d\\ude00", "tags": ["\\\\u0000"]}'
    response = await harness.client.post(FLAGS, content=raw, headers={**JSON, **await harness.admin()})
    # Then nothing is refused and the text is stored as sent
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "smile \U0001f600"
    assert response.json()["data"]["tags"] == ["\\u0000"]


async def test_variation_value_segment_condition_and_unit_id__surrogates__422(harness: Harness) -> None:
    admin = {**JSON, **await harness.admin()}
    variation = (
        '{"key": "f", "name": "f", "type": "json", "variations": [{"key": "a", "value": {"x": "\\ud800"}}]}'
    )
    created = await harness.client.post(FLAGS, content=variation, headers=admin)
    assert created.status_code == 422 and _errors(created)[0]["path"] == "variations[0].value.x"
    segment = '{"key": "s", "conditions": [{"attribute": "a", "operator": "eq", "values": ["\\udfff"]}]}'
    refused = await harness.client.post("/api/v1/segments", content=segment, headers=admin)
    assert refused.status_code == 422, refused.text
    assert _errors(refused)[0]["path"] == "conditions[0].values[0]"
    key = await harness.api_key(["evaluate"])
    evaluated = await harness.client.post(
        f"{FLAGS}/f/evaluate", content='{"user_id": "\\ud800"}', headers={**JSON, **key}
    )
    assert evaluated.status_code == 422 and _errors(evaluated)[0]["path"] == "user_id"


def test_json_suspect__fast_test__exact_on_escapes() -> None:
    assert not _json_suspect(b'{"a": "plain"}')
    assert not _json_suspect(b'{"a": "\\ud83d\\ude00 \\u00e9 \\\\u0000"}')
    assert _json_suspect(b'{"a": "\\u0000"}')
    assert _json_suspect(b'{"a": "\\ud83d"}')
    assert _json_suspect(b'{"a": "\\ud83d\\n"}')
    assert _json_suspect(b'{"a": "\\ud83dx\\ude00"}')
    assert _json_suspect(b'{"a": "\\ude00"}')
    assert _json_suspect(b'{"a": "\\\\\\u0000"}')


def test_bad_text_paths__keys_and_nested_values() -> None:
    found = list(bad_text_paths({"a": [1, {"b\x00": "x"}], "c": "\ud800"}))
    assert sorted(map(str, found)) == sorted(map(str, [("a", 1, "b\x00"), ("c",)]))


def _rule_body(values: str) -> str:
    """A targeting body with one rule ``gt`` over ``values`` written as raw JSON."""
    condition = '{"attribute": "a", "operator": "gt", "values": [' + values + "]}"
    return (
        '{"version": 1, "rules": [{"id": "r", "conditions": ['
        + condition
        + '], "serve": {"variation": "on"}}]}'
    )


async def test_json_body__nan_or_infinity__422_with_path__nothing_stored(harness: Harness) -> None:
    # A rule value of 1e400 was stored (as null on PostgreSQL, as infinity through SQLite): every SDK
    # payload of the environment then answered 500; a default of 1e400 or NaN made /evaluate a 500
    admin = {**JSON, **await harness.admin()}
    assert (
        await harness.client.post(FLAGS, json={"key": "ops", "name": "ops"}, headers=admin)
    ).status_code == 201
    for token in ("1e400", "-1E+400", "Infinity", "-Infinity", "NaN"):
        response = await harness.client.put(
            f"{FLAGS}/ops/environments/production", content=_rule_body(token), headers=admin
        )
        assert response.status_code == 422, (token, response.text)
        [error] = _errors(response)
        assert error["path"] == "rules[0].conditions[0].values[0]" and error["type"] == "finite_number"
        assert "finite number" in response.json()["error"]["message"]
        segment = (
            '{"key": "s", "conditions": [{"attribute": "a", "operator": "lt", "values": [' + token + "]}]}"
        )
        assert (
            await harness.client.post("/api/v1/segments", content=segment, headers=admin)
        ).status_code == 422
    key = await harness.api_key(["evaluate"])
    for token in ("1e400", "NaN"):
        evaluated = await harness.client.post(
            f"{FLAGS}/ops/evaluate",
            content='{"user_id": "u1", "default": ' + token + "}",
            headers={**JSON, **key},
        )
        assert evaluated.status_code == 422 and _errors(evaluated)[0]["path"] == "default", evaluated.text
    # nothing was stored: the SDK payload still encodes
    assert (await harness.client.get("/api/v1/sdk/flags", headers=key)).status_code == 200


async def test_json_body__large_but_finite_numbers_and_words__accepted(harness: Harness) -> None:
    admin = {**JSON, **await harness.admin()}
    raw = '{"key": "big", "name": "Infinity and NaN 1e400", "description": "x", "tags": ["1e999"]}'
    response = await harness.client.post(FLAGS, content=raw, headers=admin)
    assert response.status_code == 201, response.text
    body = _rule_body("1e308, -1.5E+300, 2e-400")
    changed = await harness.client.put(f"{FLAGS}/big/environments/production", content=body, headers=admin)
    assert changed.status_code == 200, changed.text


def test_number_suspect__fast_test() -> None:
    assert not _number_suspect(b'{"a": 1.5e10, "b": "plain", "c": 1e99}')
    assert _number_suspect(b'{"a": 1e400}')
    assert _number_suspect(b'{"a": 1E+308}')  # finite, but found by the fast test: parsed exactly
    assert _number_suspect(b'{"a": NaN}')
    assert _number_suspect(b'{"a": -Infinity}')
