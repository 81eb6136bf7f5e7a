"""The acting subject of a request (``ActorDep``): a person by bearer token (a local JWT, or an external
OIDC token with just-in-time provisioning), or an application by ``X-API-Key``."""

from __future__ import annotations

from typing import Annotated

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor, ActorKind
from experimently.auth import mfa, repository, security
from experimently.auth.models import User
from experimently.auth.oidc import OidcIdentity
from experimently.auth.service import user_actor, user_snapshot
from experimently.deps import RuntimeDep
from experimently.errors import AuthenticationRequired, ErrorCode, PermissionDenied
from experimently.kit.clock import now
from experimently.kit.context import current as current_request
from experimently.runtime import Runtime

LAST_LOGIN_RESOLUTION = 60.0
# what an account under the MFA policy may still reach before it enrols (its own auth endpoints)
MFA_ENROLMENT_PATHS = ("/api/v1/auth/",)
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def _user_from_local_token(
    session: AsyncSession, runtime: Runtime, token: str, path: str | None = None
) -> Actor:
    try:
        claims = security.decode_access_token(runtime.settings.secret, token)
    except jwt.ExpiredSignatureError:
        raise AuthenticationRequired("access token expired", code=ErrorCode.TOKEN_INVALID) from None
    except jwt.InvalidTokenError:
        raise AuthenticationRequired("access token invalid", code=ErrorCode.TOKEN_INVALID) from None
    user = await repository.user_by_id(session, claims.subject)
    if user is None or not user.is_active:
        raise AuthenticationRequired("account inactive or removed", code=ErrorCode.TOKEN_INVALID)
    # iat carries microseconds; a token of an older release (whole seconds, rounded down) issued in
    # the second of the change is refused, which errs on the safe side
    if user.password_changed_at and claims.issued_at <= user.password_changed_at:
        raise AuthenticationRequired("token predates a password change", code=ErrorCode.TOKEN_INVALID)
    blocked = path is not None and not path.startswith(MFA_ENROLMENT_PATHS)
    if blocked and not user.mfa_enabled and mfa.policy_requires(runtime.settings, user):
        raise PermissionDenied(
            "this account must turn on MFA before anything else: POST /api/v1/auth/mfa/enrol, "
            "then /api/v1/auth/mfa/confirm",
            code=ErrorCode.MFA_ENROLMENT_REQUIRED,
        )
    return user_actor(user, session_id=claims.session_id)


async def _user_from_oidc(session: AsyncSession, runtime: Runtime, token: str) -> Actor:
    assert runtime.oidc is not None
    try:
        identity = await runtime.oidc.verify(token)
    except (jwt.InvalidTokenError, httpx.HTTPError, ValueError) as exc:
        raise AuthenticationRequired(
            f"identity token rejected: {exc}", code=ErrorCode.TOKEN_INVALID
        ) from None
    user = await provision(session, identity)
    if not user.is_active:
        raise AuthenticationRequired("account inactive", code=ErrorCode.TOKEN_INVALID)
    return user_actor(user)


async def provision(session: AsyncSession, identity: OidcIdentity) -> User:
    """Just-in-time account for an external identity; its role follows the issuer's groups."""
    user = await repository.user_by_external_subject(session, identity.subject)
    if user is None and await repository.email_taken(session, identity.email):
        # never link an external identity to a local account by email alone (account takeover)
        raise AuthenticationRequired(
            f"'{identity.email}' belongs to a local account; an admin must rename that account first",
            code=ErrorCode.TOKEN_INVALID,
        )
    if user is None:
        user = User(
            email=identity.email,
            role=identity.role,
            external_subject=identity.subject,
            is_active=True,
            created_at=now(),
        )
        session.add(user)
        await session.flush()
        audit.record(
            session, SYSTEM, "user.provisioned", "user", user.id, after=user_snapshot(user), reason="oidc"
        )
    elif user.role != identity.role:
        before = user_snapshot(user)
        user.role = identity.role
        audit.record(
            session,
            SYSTEM,
            "user.updated",
            "user",
            user.id,
            before=before,
            after=user_snapshot(user),
            reason="oidc groups",
        )
    moment = now()
    if user.last_login_at is None or (moment - user.last_login_at).total_seconds() > LAST_LOGIN_RESOLUTION:
        user.last_login_at = moment  # not a write on every request
    return user


async def api_key_actor(runtime: Runtime, api_key: str) -> Actor:
    """The application behind ``X-API-Key`` (cached verification), counted against its rate limit."""
    actor = await runtime.api_keys.authenticate(api_key, current_request().ip)
    await runtime.limiter.hit(runtime.settings.api_key_rate_limit, "api-key", actor.id, exact=False)
    return actor


async def get_actor(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Actor:
    """Bearer token (local JWT or external OIDC) for people, ``X-API-Key`` for applications."""
    if api_key:
        return await api_key_actor(runtime, api_key)
    if not token:
        raise AuthenticationRequired()
    async with runtime.db.transaction() as session:  # its own unit: JIT provisioning commits even on a 4xx
        if runtime.oidc is not None and runtime.oidc.matches(security.unverified_issuer(token)):
            return await _user_from_oidc(session, runtime, token)
        return await _user_from_local_token(session, runtime, token, request.url.path)


ActorDep = Annotated[Actor, Depends(get_actor)]


async def get_person(actor: ActorDep) -> Actor:
    """The actor of an endpoint about one's own account (``/auth/me``, MFA, password, sessions): a
    person. An API key is refused with 403 rather than looked up as a user it is not (a 404 "user
    not found", or a 200 that ended nobody's sessions and audited it)."""
    if actor.kind is ActorKind.API_KEY:
        raise PermissionDenied(
            "this endpoint is about a person's own account: call it signed in (a bearer token or the "
            "console's session), not with an API key"
        )
    return actor


PersonDep = Annotated[Actor, Depends(get_person)]
