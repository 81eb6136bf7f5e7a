"""PII event properties: stored encrypted (a dump shows no plaintext), decrypted only in the privacy
export, gone after erasure, and re-encrypted with the rest after a key rotation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from experimently.encryption import registry
from experimently.encryption.keyring import KeyRing, generate_key
from tests.conftest import TEST_ENCRYPTION_KEY, Harness
from tests.events.helpers import flush, post_batch

EMAIL = "alice.secret@example.com"
PHONE = "+33 6 12 34 56 78"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"pii_properties": "production=email,*=phone"}


async def raw_properties(h: Harness) -> list[str]:
    async with h.runtime.db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT CAST(properties AS TEXT) FROM events ORDER BY seq"))
        return [str(v) for v in rows.scalars()]


async def test_pii__encrypted_at_rest__decrypted_in_export__gone_after_erasure(harness: Harness) -> None:
    # Given events with PII properties (email: production only; phone: every environment)
    key = await harness.api_key(["track"])
    events = [
        {"name": "signup", "user_id": "alice", "properties": {"email": EMAIL, "phone": PHONE, "plan": "pro"}},
        {"name": "buy", "user_id": "alice", "value": 3, "properties": {"email": {"nested": EMAIL}}},
        {"name": "buy", "user_id": "bob", "properties": {"plan": "free"}},
    ]
    assert (await post_batch(harness, key, events)).status_code == 202
    await flush(harness)

    # Then the raw table holds no plaintext PII, and the other properties as they were
    dump = "\n".join(await raw_properties(harness))
    assert EMAIL not in dump and PHONE not in dump and "nested" not in dump
    assert '"plan"' in dump and "pro" in dump and "fernet:" in dump

    # and the privacy export gives them back decrypted, with their types
    admin = await harness.admin()
    exported = (await harness.client.get("/api/v1/privacy/users/alice/export", headers=admin)).json()
    props = sorted((e["properties"] for e in exported["data"]["data"]["events"]), key=len)
    assert props == [{"email": {"nested": EMAIL}}, {"email": EMAIL, "phone": PHONE, "plan": "pro"}]

    # after a key rotation and re-encryption, a ring of only the new key still reads them
    new_key = generate_key()
    rotated = KeyRing(f"{new_key},{TEST_ENCRYPTION_KEY}")
    counts = await registry.reencrypt(harness.runtime.db, rotated, harness.runtime.reencrypt_walkers)
    assert counts["events.properties"] == 2
    only_new = KeyRing(new_key)
    for stored in await raw_properties(harness):
        for token in [p for p in stored.replace('"', " ").split() if p.startswith("fernet:")]:
            only_new.decrypt(token)  # raises if anything stayed under the old key

    # When alice is erased, nothing of hers is left
    erased = await harness.client.delete("/api/v1/privacy/users/alice", headers=admin)
    assert erased.status_code == 200
    assert "fernet:" not in "\n".join(await raw_properties(harness))
    again = (await harness.client.get("/api/v1/privacy/users/alice/export", headers=admin)).json()
    assert again["data"]["data"]["events"] == []


async def test_pii__other_environment__only_global_names_encrypted(harness: Harness) -> None:
    key = await harness.api_key(["track"], environment="staging")
    event = {"name": "signup", "user_id": "carol", "properties": {"email": EMAIL, "phone": PHONE}}
    assert (await post_batch(harness, key, [event])).status_code == 202
    await flush(harness)
    dump = "\n".join(await raw_properties(harness))
    assert EMAIL in dump and PHONE not in dump
