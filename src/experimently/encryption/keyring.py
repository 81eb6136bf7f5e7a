"""The key ring: ``cryptography``'s MultiFernet (AES-128-CBC + HMAC-SHA256, authenticated, with a
timestamp) over the keys of ``EXPERIMENTLY_ENCRYPTION_KEYS``, newest first. The newest key encrypts;
every key decrypts, so a key is added at the front, everything is re-encrypted under it
(``experimently encryption reencrypt``), and only then is the old key removed.

Stored values carry a ``fernet:`` prefix, which tells an encrypted value from a legacy plaintext one
(webhook secrets written before encryption existed) without trying to decrypt it."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from experimently.config import Settings

PREFIX = "fernet:"


class KeyRingError(ValueError):
    """A value no key of the ring decrypts (a key was removed too early, or the value was altered)."""


def parse_keys(raw: str) -> list[Fernet]:
    keys = [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]
    if not keys:
        raise ValueError("EXPERIMENTLY_ENCRYPTION_KEYS holds no key")
    try:
        return [Fernet(key) for key in keys]
    except ValueError as exc:
        raise ValueError(
            "EXPERIMENTLY_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes "
            "(generate one with 'experimently encryption generate-key')"
        ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


class KeyRing:
    def __init__(self, raw_keys: str) -> None:
        self._keys = parse_keys(raw_keys)
        self._ring = MultiFernet(self._keys)

    @property
    def size(self) -> int:
        return len(self._keys)

    @staticmethod
    def is_encrypted(value: str) -> bool:
        return value.startswith(PREFIX)

    def encrypt(self, plaintext: str) -> str:
        return PREFIX + self._ring.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value; a value without the prefix is legacy plaintext, as is."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._ring.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise KeyRingError("no key of the ring decrypts this value") from None

    def rotate(self, stored: str) -> str:
        """The value encrypted under the newest key (plaintext is encrypted; current values unchanged
        in meaning). Raises :class:`KeyRingError` when no key decrypts it."""
        if not stored.startswith(PREFIX):
            return self.encrypt(stored)
        try:
            return PREFIX + self._ring.rotate(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise KeyRingError("no key of the ring decrypts this value") from None

    def is_current(self, stored: str) -> bool:
        """Encrypted under the newest key already (nothing to rotate)."""
        if not stored.startswith(PREFIX):
            return False
        try:
            self._keys[0].decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True

    def encrypt_json(self, value: Any) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def decrypt_json(self, stored: Any) -> Any:
        if not isinstance(stored, str) or not stored.startswith(PREFIX):
            return stored
        return json.loads(self.decrypt(stored))


@lru_cache(maxsize=4)
def _ring(raw: str) -> KeyRing:
    return KeyRing(raw)


def keyring_of(settings: Settings) -> KeyRing:
    """The key ring of resolved settings (one instance per distinct key list)."""
    if settings.encryption_keys is None:
        raise RuntimeError("settings not resolved: call resolve() first")
    return _ring(settings.encryption_keys.get_secret_value())
