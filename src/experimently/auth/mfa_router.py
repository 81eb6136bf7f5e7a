"""MFA endpoints: the second login step, enrolment, disable, recovery codes, admin reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from experimently.auth import mfa, service
from experimently.auth.deps import ActorDep, PersonDep
from experimently.auth.router import client_of
from experimently.auth.schemas import TokenResponse
from experimently.deps import RuntimeDep, SessionDep
from experimently.kit.envelope import Envelope

router = APIRouter(prefix="/auth", tags=["auth"])
admin_router = APIRouter(prefix="/users", tags=["users"])


class MfaLogin(BaseModel):
    mfa_token: str = Field(min_length=10, max_length=2000, description="from the MFA_REQUIRED answer")
    code: str = Field(min_length=6, max_length=40, description="a TOTP code or an unused recovery code")


class MfaCode(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    code: str = Field(
        min_length=6, max_length=40, description="a TOTP code (or, to disable, a recovery code)"
    )


class MfaEnrolment(BaseModel):
    otpauth_uri: str = Field(description="for authenticator apps; also encoded in qr_svg")
    secret: str = Field(description="the base32 seed, for manual entry; shown only now")
    qr_svg: str = Field(description="the otpauth URI as a QR code: an SVG data URI an <img> can show")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="ten one-time codes, shown only now")


class MfaStatus(BaseModel):
    enabled: bool
    required: bool
    recovery_codes_left: int
    managed_by_identity_provider: bool


@router.post("/token/mfa", response_model=TokenResponse)
async def token_mfa(request: Request, runtime: RuntimeDep, body: MfaLogin) -> TokenResponse:
    """Second login step: the ``mfa_token`` of the ``MFA_REQUIRED`` answer and a code; returns the
    standard OAuth2 token JSON."""
    return await service.login_mfa(
        runtime.db,
        runtime.settings,
        runtime.keyring,
        runtime.limiter,
        body.mfa_token,
        body.code,
        client_of(request),
    )


@router.get("/mfa", response_model=Envelope[MfaStatus])
async def mfa_status(actor: PersonDep, session: SessionDep, runtime: RuntimeDep) -> Envelope[MfaStatus]:
    """Whether MFA is on (and required) for the authenticated person."""
    return Envelope(data=MfaStatus(**await mfa.status(session, runtime.settings, actor)))


@router.post("/mfa/enrol", response_model=Envelope[MfaEnrolment])
async def enrol(actor: PersonDep, session: SessionDep, runtime: RuntimeDep) -> Envelope[MfaEnrolment]:
    """Start enrolment: a new TOTP seed as an otpauth URI and QR code; confirm with a first code."""
    data: dict[str, Any] = await mfa.enrol(session, runtime.settings, runtime.keyring, actor)
    return Envelope(data=MfaEnrolment(**data))


@router.post("/mfa/confirm", response_model=Envelope[RecoveryCodes])
async def confirm(
    actor: PersonDep, session: SessionDep, runtime: RuntimeDep, body: MfaCode
) -> Envelope[RecoveryCodes]:
    """Switch MFA on with a first code; returns ten one-time recovery codes (shown only now)."""
    codes = await mfa.confirm(session, runtime.settings, runtime.keyring, runtime.limiter, actor, body.code)
    return Envelope(data=RecoveryCodes(recovery_codes=codes))


@router.post("/mfa/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable(actor: PersonDep, session: SessionDep, runtime: RuntimeDep, body: MfaCode) -> None:
    """Switch MFA off; needs a current code or an unused recovery code."""
    await mfa.disable(session, runtime.settings, runtime.keyring, runtime.limiter, actor, body.code)


@router.post("/mfa/recovery-codes", response_model=Envelope[RecoveryCodes])
async def recovery_codes(
    actor: PersonDep, session: SessionDep, runtime: RuntimeDep, body: MfaCode
) -> Envelope[RecoveryCodes]:
    """Ten new recovery codes (the previous ones stop working); needs a current code."""
    codes = await mfa.regenerate_recovery_codes(
        session, runtime.settings, runtime.keyring, runtime.limiter, actor, body.code
    )
    return Envelope(data=RecoveryCodes(recovery_codes=codes))


@admin_router.post("/{user_id}/mfa/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset(actor: ActorDep, session: SessionDep, user_id: str) -> None:
    """Switch another account's MFA off (a lost device) and end its sessions (admin, audited)."""
    await mfa.admin_reset(session, actor, user_id)
