"""Auth, user and API key payloads."""

from __future__ import annotations

from datetime import datetime

import email_validator
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from experimently.actor import Role, Scope
from experimently.kit.instants import UtcDateTime

# Accounts of a self-hosted tool live at internal domains: a company's `.local` (Active Directory), a
# staging `.test`, the default first admin `admin@experimently.local`. email-validator refuses those
# names as undeliverable on the public internet; nothing here sends mail, and the first admin's
# colleagues were refused. The library documents removing names from this list as the way to allow them.
for _name in ("local", "test"):
    if _name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_name)


def account_email(raw: object) -> str | None:
    """``raw`` as an account's email (lower case, the domain in ASCII), or None when it is not an
    address: what a local account may be created with, applied to an identity provider's claim. A
    claim stored unchecked let "admin@example.com " (a trailing space) and look-alike domains pass
    for the admin in the audit trail, past the check that no identity takes a local account's email."""
    if not isinstance(raw, str):
        return None
    try:
        found = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return str(found.ascii_email or found.normalized).lower()


class TokenResponse(BaseModel):
    """Standard OAuth2 token JSON (not enveloped, so Swagger's Authorize works)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    email: EmailStr
    role: Role = Role.VIEWER
    password: str | None = Field(default=None, min_length=12, max_length=200)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    role: Role | None = None
    is_active: bool | None = None
    email: EmailStr | None = Field(default=None, description="rename the account (frees the old email)")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    mfa_enabled: bool = Field(description="two-step sign-in (TOTP) is on for this account")


class UserCreated(UserRead):
    password: str | None = Field(default=None, description="generated password, shown once")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field it does not know is a 422, never ignored

    name: str = Field(min_length=1, max_length=200)
    environment: str = Field(min_length=1, max_length=64, description="environment key")
    scopes: list[Scope] = Field(min_length=1)
    expires_at: UtcDateTime | None = None

    @field_validator("scopes")
    @classmethod
    def _client_keys_stay_client_side(cls, scopes: list[Scope]) -> list[Scope]:
        # a client-side key ships inside browsers: it may add only 'track', never server scopes
        if Scope.CLIENT in scopes and not set(scopes) <= {Scope.CLIENT, Scope.TRACK}:
            raise ValueError("the 'client' scope combines only with 'track'")
        return scopes


class ApiKeyRead(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    environment: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the secret key, shown once")


class SessionToken(BaseModel):
    """The console's sign-in answer: the access token for memory; the refresh token is in a cookie."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    csrf_token: str = Field(description="send back in X-CSRF-Token on /auth/session/refresh and logout")


class SessionLogin(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=200)


class PermissionsRead(BaseModel):
    """What the caller may do; the console hides what is missing (the API still enforces it)."""

    id: str
    kind: str
    label: str
    role: str | None
    permissions: list[str]
    owned_only: list[str] = Field(
        description="permissions that reach only resources the caller owns (all but admins)"
    )


class PasswordReset(BaseModel):
    password: str = Field(description="the new generated password, shown once")
