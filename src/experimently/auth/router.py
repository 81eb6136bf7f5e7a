"""Auth (OAuth2 password flow, refresh, logout, me, password), users and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from experimently.auth import cookie, keys, service
from experimently.auth.deps import ActorDep, PersonDep
from experimently.auth.models import User
from experimently.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    PasswordChange,
    RefreshRequest,
    TokenResponse,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)
from experimently.deps import RuntimeDep, SessionDep
from experimently.errors import NotFound, errors
from experimently.kit.envelope import Envelope

router = APIRouter(prefix="/auth", tags=["auth"])


def client_of(request: Request) -> service.Client:
    return service.Client(
        ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent", ""),
    )


users_router = APIRouter(prefix="/users", tags=["users"])
keys_router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post("/token", response_model=TokenResponse, responses=errors(401, 429))
async def token(
    request: Request, runtime: RuntimeDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenResponse:
    """Log in with email (``username``) and password; returns standard OAuth2 token JSON."""
    return await service.login(
        runtime.db, runtime.settings, runtime.limiter, form.username, form.password, client_of(request)
    )


@router.post("/refresh", response_model=TokenResponse)
async def refresh(request: Request, runtime: RuntimeDep, body: RefreshRequest) -> TokenResponse:
    """Exchange a refresh token for a new pair (the old refresh token is revoked)."""
    return await service.refresh(runtime.db, runtime.settings, body.refresh_token, client_of(request))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(actor: PersonDep, session: SessionDep, body: RefreshRequest) -> None:
    """Revoke the given refresh token (and its rotation family)."""
    await service.logout(session, actor, body.refresh_token)


@router.get("/me", response_model=Envelope[UserRead])
async def me(actor: PersonDep, session: SessionDep) -> Envelope[UserRead]:
    """The authenticated person."""
    user = await session.get(User, actor.id)
    if user is None:
        raise NotFound("user", actor.id)
    return Envelope(data=UserRead.model_validate(user))


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    response: Response, actor: PersonDep, session: SessionDep, runtime: RuntimeDep, body: PasswordChange
) -> None:
    """Change one's own password (zxcvbn strength checked); every refresh token is revoked and the
    console's session cookies cleared (a later refresh with the revoked cookie is not a theft)."""
    await service.change_password(session, runtime.settings, actor, body)
    cookie.clear_session_cookies(response, runtime.settings)


@users_router.get("", response_model=Envelope[list[UserRead]])
async def list_users(actor: ActorDep, session: SessionDep) -> Envelope[list[UserRead]]:
    """List accounts (admin)."""
    return Envelope(data=await service.list_users(session, actor))


@users_router.post("", response_model=Envelope[UserCreated], status_code=status.HTTP_201_CREATED)
async def create_user(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, body: UserCreate
) -> Envelope[UserCreated]:
    """Create an account (admin); a generated password is returned once; a given one must be strong."""
    return Envelope(
        data=await service.create_user(session, actor, body, min_score=runtime.settings.password_min_score)
    )


@users_router.patch("/{user_id}", response_model=Envelope[UserRead])
async def update_user(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, user_id: str, body: UserUpdate
) -> Envelope[UserRead]:
    """Change an account's role or deactivate it (admin); a deactivated account's API keys stop too."""
    return Envelope(data=await service.update_user(session, actor, user_id, body, runtime.cache))


@keys_router.get("", response_model=Envelope[list[ApiKeyRead]])
async def list_keys(actor: ActorDep, session: SessionDep) -> Envelope[list[ApiKeyRead]]:
    """List API keys by prefix (the secret is never shown again)."""
    return Envelope(data=await keys.list_keys(session, actor))


@keys_router.post("", response_model=Envelope[ApiKeyCreated], status_code=status.HTTP_201_CREATED)
async def create_key(actor: ActorDep, session: SessionDep, body: ApiKeyCreate) -> Envelope[ApiKeyCreated]:
    """Issue an API key bound to one environment; the key is shown once."""
    return Envelope(data=await keys.create_key(session, actor, body))


@keys_router.post("/{key_id}/revoke", response_model=Envelope[ApiKeyRead])
async def revoke_key(
    actor: ActorDep, session: SessionDep, runtime: RuntimeDep, key_id: str
) -> Envelope[ApiKeyRead]:
    """Revoke an API key; every instance refuses it within seconds (30 s at most if a message is lost)."""
    return Envelope(data=await keys.revoke_key(session, runtime.cache, actor, key_id))
