"""Every column stored encrypted with the key ring, and the two walks over them: encrypting legacy
plaintext (at start-up, idempotent) and re-encrypting under the newest key (the CLI, after a key was
added). A domain that stores an encrypted column lists it here; encrypted event properties (PII) are
walked by the events domain's own function, since they live inside JSON: such walkers are registered on
the runtime (``Runtime.reencrypt_walkers``) and handed to :func:`reencrypt`, never kept in a module
global, so two runtimes in one process do not share them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from experimently.auth.mfa_models import UserMfa
from experimently.db import Database
from experimently.encryption import repository
from experimently.encryption.keyring import KeyRing
from experimently.webhooks.models import Webhook

log = structlog.get_logger(__name__)
BATCH = 500


@dataclass(frozen=True)
class EncryptedColumn:
    name: str
    model: type[Any]
    column: InstrumentedAttribute[str]


COLUMNS = (
    EncryptedColumn("webhooks.secret", Webhook, Webhook.secret),
    EncryptedColumn("user_mfa.secret", UserMfa, UserMfa.secret),
)
# a domain's own re-encryption walk (the events domain's PII properties): (db, keyring) -> rows changed
Walker = Callable[[Database, KeyRing], Awaitable[int]]


async def _walk(db: Database, keyring: KeyRing, item: EncryptedColumn, *, only_plaintext: bool) -> int:
    """Rewrite, in batches of one transaction each, every value that is plaintext (or, for a rotation,
    not under the newest key). Primary-key order, so a batch never sees a row twice."""
    changed = 0
    pk = item.model.__mapper__.primary_key[0]
    after: Any = None
    while True:
        async with db.transaction() as session:
            rows = await repository.batch_after(session, item.model, after, BATCH)
            for row in rows:
                value = getattr(row, item.column.key)
                if only_plaintext and keyring.is_encrypted(value):
                    continue
                if not only_plaintext and keyring.is_current(value):
                    continue
                setattr(row, item.column.key, keyring.rotate(value))
                changed += 1
        if len(rows) < BATCH:
            return changed
        after = getattr(rows[-1], pk.key)


async def encrypt_plaintext(db: Database, keyring: KeyRing) -> dict[str, int]:
    """Encrypt values written before encryption existed (a no-op once done; run at every start)."""
    counts = {c.name: await _walk(db, keyring, c, only_plaintext=True) for c in COLUMNS}
    if any(counts.values()):
        log.info("encryption.plaintext_encrypted", **counts)
    return counts


async def reencrypt(db: Database, keyring: KeyRing, walkers: Mapping[str, Walker]) -> dict[str, int]:
    """Re-encrypt every encrypted value under the newest key of the ring (the registered columns, then
    each of ``walkers``, the runtime's ``reencrypt_walkers``); returns rows changed per name."""
    counts = {c.name: await _walk(db, keyring, c, only_plaintext=False) for c in COLUMNS}
    for name, walker in walkers.items():
        counts[name] = await walker(db, keyring)
    return counts


async def plaintext_left(session: AsyncSession, keyring: KeyRing) -> int:
    """How many values of the registered columns are not encrypted (for tests and ``doctor``)."""
    left = 0
    for item in COLUMNS:
        values = await repository.column_values(session, item.column)
        left += sum(1 for v in values if not keyring.is_encrypted(v))
    return left


async def undecryptable(session: AsyncSession, keyring: KeyRing) -> dict[str, int]:
    """Per registered column, how many encrypted values no key of the ring decrypts (``doctor``: a
    database restored without its key ring, or a ring that lost a key still in use)."""
    found: dict[str, int] = {}
    for item in COLUMNS:
        bad = 0
        for value in await repository.column_values(session, item.column):
            if not keyring.is_encrypted(value):
                continue
            try:
                keyring.decrypt(value)
            except Exception:
                bad += 1
        if bad:
            found[item.name] = bad
    return found
