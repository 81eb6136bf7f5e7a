"""External OIDC issuer (Cognito, Auth0, Keycloak...): JWKS fetched and cached, iss/aud/exp checked,
groups mapped to roles."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from experimently.actor import Role
from experimently.auth.schemas import account_email
from experimently.config import Settings

REFETCH_SECONDS = 60.0
_ROLE_ORDER = [Role.ADMIN, Role.DEVELOPER, Role.ANALYST, Role.VIEWER]


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    subject: str
    email: str
    role: Role


class OidcVerifier:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        assert settings.oidc_issuer is not None
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._host = urlsplit(self.issuer).hostname or self.issuer  # no port: part of an address
        self.audience = settings.oidc_audience
        self.jwks_url = settings.oidc_jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self.groups_claim = settings.oidc_groups_claim
        self.role_map = {group: Role(role) for group, role in settings.oidc_role_map.items()}
        self.ttl = settings.oidc_jwks_ttl_seconds
        self.transport = transport
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = -1e18

    async def _jwks(self, force: bool = False) -> jwt.PyJWKSet:
        if self._keys is None or force or time.monotonic() - self._fetched_at > self.ttl:
            async with httpx.AsyncClient(transport=self.transport, timeout=5.0) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
                self._keys = jwt.PyJWKSet.from_dict(response.json())
                self._fetched_at = time.monotonic()
        return self._keys

    def matches(self, issuer: str | None) -> bool:
        return issuer is not None and issuer.rstrip("/") == self.issuer

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        # an unknown kid refetches (key rotation), but at most once a minute: a stream of forged kids
        # must not turn into a stream of requests to the identity provider
        retry = time.monotonic() - self._fetched_at > REFETCH_SECONDS
        for force in (False, True) if retry else (False,):
            keys = await self._jwks(force=force)
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key
        raise jwt.InvalidTokenError(f"no JWKS key with kid {kid!r}")

    async def verify(self, token: str) -> OidcIdentity:
        """Raises ``jwt.InvalidTokenError`` (or ``httpx.HTTPError`` when the JWKS is unreachable)."""
        header = jwt.get_unverified_header(token)
        key = await self._signing_key(header.get("kid"))
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384"],
            issuer=[self.issuer, self.issuer + "/"],
            audience=self.audience,
            options={"require": ["exp", "iss", "sub"], "verify_aud": self.audience is not None},
        )
        groups = claims.get(self.groups_claim) or claims.get("cognito:groups") or []
        # no address in the claim (absent, or not an address): the subject at the issuer's host
        email = account_email(claims.get("email")) or f"{claims['sub']}@{self._host}".lower()
        return OidcIdentity(subject=str(claims["sub"]), email=email, role=self._role(groups))

    def _role(self, groups: Any) -> Role:
        mapped = {self.role_map[g] for g in groups if isinstance(g, str) and g in self.role_map}
        for role in _ROLE_ORDER:
            if role in mapped:
                return role
        return Role.VIEWER
