"""Encryption at rest: webhook secrets in the raw table are ciphertext; after a key rotation and
``reencrypt`` deliveries are still signed with the same secret, and the old key can be dropped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from experimently.config import Settings
from experimently.encryption import registry
from experimently.encryption.keyring import KeyRing, generate_key
from experimently.webhooks.delivery import deliver, verify
from tests.conftest import TEST_ENCRYPTION_KEY, FakeClock, Harness


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True}


async def raw_values(h: Harness, sql: str) -> list[str]:
    """What a database dump would show: the table as stored, read past the ORM."""
    async with h.runtime.db.engine.connect() as conn:
        return [str(v) for v in (await conn.execute(text(sql))).scalars()]


async def test_webhook_secret__encrypted_in_table__signatures_survive_rotation(harness: Harness) -> None:
    # Given a webhook; its secret (shown once) is nowhere in the raw table
    created = await harness.client.post(
        "/api/v1/webhooks", json={"url": "http://receiver.test/hook"}, headers=await harness.admin()
    )
    secret = created.json()["data"]["secret"]
    stored = await raw_values(harness, "SELECT secret FROM webhooks")
    assert stored and all(secret not in v and v.startswith("fernet:") for v in stored)

    # When a new key is put first in the ring and everything is re-encrypted under it
    new_key = generate_key()
    rotated_ring = KeyRing(f"{new_key},{TEST_ENCRYPTION_KEY}")
    counts = await registry.reencrypt(harness.runtime.db, rotated_ring, harness.runtime.reencrypt_walkers)
    assert counts["webhooks.secret"] == 1
    after = await raw_values(harness, "SELECT secret FROM webhooks")
    assert after != stored and secret not in after[0]

    # Then a ring holding only the new key decrypts it, and deliveries signed with it still verify
    only_new = Settings(**{**harness.settings.model_dump(), "encryption_keys": new_key})
    with pytest.raises(ValueError):
        KeyRing(TEST_ENCRYPTION_KEY).decrypt(after[0])
    got: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(200)

    await harness.client.post(
        f"/api/v1/webhooks/{created.json()['data']['id']}/ping", headers=await harness.admin()
    )
    assert await deliver(harness.runtime.db, only_new, httpx.MockTransport(receiver)) == 1
    header = got[0].headers["X-Experimently-Signature"]
    now_s = int(header.split(",")[0].removeprefix("t="))
    assert verify(secret, header, got[0].content, now_s=now_s)


async def test_legacy_plaintext_secret__encrypted_at_start(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/webhooks", json={"url": "http://receiver.test/hook"}, headers=await harness.admin()
    )
    secret = created.json()["data"]["secret"]
    async with harness.runtime.db.engine.begin() as conn:  # as a database from before 0014 holds it
        await conn.execute(text("UPDATE webhooks SET secret = :s"), {"s": secret})
    counts = await registry.encrypt_plaintext(harness.runtime.db, harness.runtime.keyring)
    assert counts["webhooks.secret"] == 1
    stored = await raw_values(harness, "SELECT secret FROM webhooks")
    assert harness.runtime.keyring.decrypt(stored[0]) == secret and secret not in stored[0]
    assert await registry.encrypt_plaintext(harness.runtime.db, harness.runtime.keyring) == {
        "webhooks.secret": 0,
        "user_mfa.secret": 0,
    }


def test_settings__external_database_without_key__refused(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="EXPERIMENTLY_ENCRYPTION_KEYS is required"):
        Settings(
            data_dir=tmp_path,
            database_url="postgresql+asyncpg://x@127.0.0.1/none",
            secret_key="s" * 40,
        ).resolve()


def test_settings__embedded__key_generated_once_into_data_dir(tmp_path: Any) -> None:
    first = Settings(data_dir=tmp_path).resolve()
    second = Settings(data_dir=tmp_path).resolve()
    assert first.encryption_keys is not None and second.encryption_keys is not None
    assert first.encryption_keys.get_secret_value() == second.encryption_keys.get_secret_value()
    assert (tmp_path / "encryption_keys").stat().st_mode & 0o077 == 0
    KeyRing(first.encryption_keys.get_secret_value())  # a valid Fernet key


async def test_undecryptable_secret__that_hook_waits__no_crash(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a pending ping whose secret no key of the (misconfigured) ring decrypts
    created = await harness.client.post(
        "/api/v1/webhooks", json={"url": "http://receiver.test/hook"}, headers=await harness.admin()
    )
    await harness.client.post(
        f"/api/v1/webhooks/{created.json()['data']['id']}/ping", headers=await harness.admin()
    )
    got: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(200)

    wrong = Settings(**{**harness.settings.model_dump(), "encryption_keys": generate_key()})
    # When the delivery job runs with it, nothing is sent and nothing raises
    assert await deliver(harness.runtime.db, wrong, httpx.MockTransport(receiver)) == 0
    # Then, once the ring is right again, the delivery goes out
    fake_clock.advance(minutes=10)
    assert await deliver(harness.runtime.db, harness.settings, httpx.MockTransport(receiver)) == 1
    assert len(got) == 1
