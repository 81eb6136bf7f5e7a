"""The console's session endpoints (refresh token in a cookie) and the caller's permissions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from experimently.auth import cookie, oidc_flow, reset, service
from experimently.auth.deps import ActorDep
from experimently.auth.mfa_router import MfaLogin
from experimently.auth.router import client_of
from experimently.auth.schemas import PasswordReset, PermissionsRead, SessionLogin, SessionToken
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope
from experimently.rbac import permissions_for
from experimently.rbac.permissions import owned_writes

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/session", response_model=SessionToken)
async def sign_in(
    request: Request, response: Response, runtime: RuntimeDep, body: SessionLogin
) -> SessionToken:
    """Sign in for a browser: the access token in the body, the refresh token in an httpOnly cookie."""
    tokens = await service.login(
        runtime.db, runtime.settings, runtime.limiter, body.email, body.password, client_of(request)
    )
    return cookie.set_session_cookies(response, runtime.settings, tokens)


@router.post("/session/mfa", response_model=SessionToken)
async def sign_in_mfa(
    request: Request, response: Response, runtime: RuntimeDep, body: MfaLogin
) -> SessionToken:
    """Second sign-in step for a browser: the ``mfa_token`` of the ``MFA_REQUIRED`` answer and a TOTP
    or recovery code; answers like ``/auth/session`` (access token in the body, refresh in a cookie)."""
    tokens = await service.login_mfa(
        runtime.db,
        runtime.settings,
        runtime.keyring,
        runtime.limiter,
        body.mfa_token,
        body.code,
        client_of(request),
    )
    return cookie.set_session_cookies(response, runtime.settings, tokens)


@router.post("/session/refresh", response_model=SessionToken)
async def refresh_session(request: Request, response: Response, runtime: RuntimeDep) -> SessionToken:
    """Rotate the cookie's refresh token (needs the X-CSRF-Token header) and return a new access token."""
    token = cookie.refresh_from_cookie(request, runtime.settings)
    tokens = await service.refresh(runtime.db, runtime.settings, token, client_of(request))
    return cookie.set_session_cookies(response, runtime.settings, tokens)


@router.post("/session/logout", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    request: Request, response: Response, actor: ActorDep, session: SessionDep, runtime: RuntimeDep
) -> None:
    """Revoke the cookie's refresh-token family and clear the cookies (needs X-CSRF-Token)."""
    token = cookie.refresh_from_cookie(request, runtime.settings)
    await service.logout(session, actor, token)
    cookie.clear_session_cookies(response, runtime.settings)


@router.get("/permissions", response_model=Envelope[PermissionsRead])
async def permissions(actor: ActorDep) -> Envelope[PermissionsRead]:
    """The caller's effective permissions (people and API keys alike)."""
    granted = permissions_for(actor)
    return Envelope(
        data=PermissionsRead(
            id=actor.id,
            kind=str(actor.kind),
            label=actor.label,
            role=None if actor.role is None else str(actor.role),
            permissions=sorted(str(p) for p in granted),
            owned_only=sorted(str(p) for p in owned_writes(actor) & granted),
        )
    )


users_admin_router = APIRouter(prefix="/users", tags=["users"])


@users_admin_router.post("/{user_id}/reset-password", response_model=Envelope[PasswordReset])
async def reset_password(actor: ActorDep, session: SessionDep, user_id: str) -> Envelope[PasswordReset]:
    """Give the account a new generated password, shown once (admin); its sessions end."""
    return Envelope(data=PasswordReset(password=await reset.reset_password(session, actor, user_id)))


@router.get("/oidc/config", response_model=Envelope[dict[str, bool]])
async def oidc_config(runtime: RuntimeDep) -> Envelope[dict[str, bool]]:
    """Whether the console offers sign-in through the OIDC issuer (public)."""
    return Envelope(data={"enabled": oidc_flow.enabled(runtime.settings, runtime.oidc)})


@router.get("/oidc/start", status_code=status.HTTP_302_FOUND)
async def oidc_start(runtime: RuntimeDep) -> RedirectResponse:
    """Send the browser to the issuer (authorization code with PKCE)."""
    url, flow = await oidc_flow.start(runtime.settings, runtime.oidc)
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    response.set_cookie(
        oidc_flow.FLOW_COOKIE,
        flow,
        max_age=oidc_flow.FLOW_TTL_SECONDS,
        path=oidc_flow.FLOW_COOKIE_PATH,
        httponly=True,
        secure=runtime.settings.cookie_secure,
        samesite="lax",  # the issuer's redirect back is a cross-site navigation
    )
    return response


@router.get("/oidc/callback", status_code=status.HTTP_303_SEE_OTHER)
async def oidc_callback(request: Request, runtime: RuntimeDep, code: str, state: str) -> RedirectResponse:
    """The issuer's redirect: trade the code, open a console session, go to the console."""
    tokens = await oidc_flow.finish(
        runtime.db,
        runtime.settings,
        runtime.oidc,
        code,
        state,
        request.cookies.get(oidc_flow.FLOW_COOKIE),
        client_of(request),
    )
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    cookie.set_session_cookies(response, runtime.settings, tokens)
    response.delete_cookie(oidc_flow.FLOW_COOKIE, path=oidc_flow.FLOW_COOKIE_PATH)
    return response
