"""Settings: one pydantic-settings object, env prefix ``EXPERIMENTLY_``.

With nothing set the product runs in the embedded shape: SQLite in ``DATA_DIR``, in-memory cache and
queue, and a random secret generated on first start and kept in ``DATA_DIR``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_FILE = "secret_key"
KEYS_FILE = "encryption_keys"


class Settings(BaseSettings):
    """Every knob of the service. Field names map to ``EXPERIMENTLY_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="EXPERIMENTLY_", extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path("./data")
    secret_key: SecretStr | None = None
    admin_email: str = "admin@experimently.local"
    admin_password: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_groups_claim: str = "groups"
    oidc_role_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    oidc_jwks_ttl_seconds: int = 3600
    # the console's browser sign-in through the issuer (authorization code with PKCE); the redirect
    # URI to register at the issuer is PUBLIC_URL + /api/v1/auth/oidc/callback
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # confidential clients only; PKCE alone otherwise
    oidc_scopes: str = "openid email profile"
    # how long such a console session lasts, refreshes included: the role is read from the issuer at
    # sign-in only, so a person demoted or removed there keeps what they had until they sign in again
    oidc_session_max_seconds: int = Field(default=8 * 3600, ge=300)

    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_echo: bool = False
    # PostgreSQL that stops answering (a partition, a frozen host) rather than refusing connections:
    # a new connection gives up after db_connect_timeout_seconds; any statement after
    # db_command_timeout_seconds (0: never; long enough for an aggregation from scratch at scale); the
    # look-ups that have an answer without the database (API keys seen lately, /ready) after
    # db_lookup_timeout_seconds
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_command_timeout_seconds: float = Field(default=300.0, ge=0)
    db_lookup_timeout_seconds: float = Field(default=2.0, gt=0)

    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    max_body_bytes: int = 2 * 1024 * 1024
    hsts: bool = False
    # the console's refresh cookie carries the Secure attribute; browsers accept it on https and on
    # http://localhost / 127.0.0.1 only. Set false to serve the console over plain http on another host.
    cookie_secure: bool = True
    public_url: str = "http://127.0.0.1:8000"  # base of absolute links to console pages
    forwarded_allow_ips: str | None = None  # proxies whose X-Forwarded-For is trusted; none by default
    login_rate_limit: str = "10/minute"
    api_key_rate_limit: str = "200000/minute"
    # database unreachable: a key verified less than this long ago keeps working from memory
    api_key_grace_seconds: float = 900.0
    # look-ups of keys that do not exist, per client address and process (then 429, no database query)
    unknown_api_key_rate_limit: str = "30/minute"
    # a ruleset reload slower than this (or failing) leaves the previous ruleset serving meanwhile
    ruleset_reload_wait_seconds: float = 2.0

    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True
    # the HTTP fast path (experimently.fastpath) answers the hot data-plane endpoints without FastAPI's
    # routing and dependency resolution; false sends every request through FastAPI (same answers)
    http_fast_path: bool = True
    # FastAPI's own OpenTelemetry instrumentation (spans, metrics and logs through a globally configured
    # OpenTelemetry SDK); off by default: it is looked up on every request (~3% of an evaluation's CPU)
    # and Experimently's own telemetry is Prometheus and structured logs
    opentelemetry: bool = False
    run_jobs: bool = True
    job_interval_seconds: float = 5.0

    event_queue_max: int = 200_000
    # Run the event writer in this process. With Redis, set it false on ``serve`` instances so only the
    # ``experimently worker`` processes write (the API's event loop then only validates and XADDs).
    # Ignored without Redis: the embedded queue lives in the API process and only it can write it.
    event_writer: bool = True
    # Writer loops in a process that writes, with Redis (each a stream consumer with its own database
    # connection): two overlap one's statement and commit with the other's (docs/events.md).
    event_writers: int = Field(default=2, ge=1, le=16)
    event_batch_size: int = 5_000
    retention_raw_events_days: int = 90
    retention_aggregates_days: int = 730
    retention_audit_days: int = 2555
    event_max_properties_bytes: int = 8_192
    event_max_age_days: int = 30
    event_max_future_seconds: int = 3_600
    event_stream_key: str = "experimently:events"
    event_stream_group: str = "writers"
    event_stream_read_count: int = 10
    event_claim_idle_ms: int = 30_000
    event_partition_days_ahead: int = 7
    aggregation_interval_seconds: float = 60.0
    # guardrail monitor (safety.check_guardrails, every aggregation interval): a breach is a treatment
    # significantly worse than control on a guardrail metric under the sequential (always-valid) test
    # at this alpha, once every arm has at least this many units
    guardrail_alpha: float = Field(default=0.05, gt=0, lt=0.5)
    guardrail_min_units: int = Field(default=100, ge=2)
    # webhook delivery (job webhooks.deliver, every JOB_INTERVAL_SECONDS): attempts before a delivery is
    # failed (backoff 30 s, 2 min, 10 min, 30 min, 2 h, 6 h, 12 h...), the timeout of one POST, and
    # whether private, loopback and link-local addresses may be called (off: no requests into the
    # network the server sits in, such as a cloud metadata endpoint)
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_allow_private_networks: bool = False
    # SDK stream (GET /api/v1/sdk/stream): open connections per API key, heartbeat, missed-change resync
    sdk_stream_max_connections_per_key: int = Field(default=20, ge=1)
    sdk_stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    sdk_stream_resync_seconds: float = Field(default=5.0, gt=0, le=300)
    # a re-weighted experiment lists its diverging stored assignments in the SDK payload up to this
    # many stored assignments; beyond, SDK clients ask the server per unit
    sdk_overrides_max: int = Field(default=50_000, ge=0)
    # client-side SDK keys (POST /sdk/evaluate): browser origins allowed by CORS (comma-separated,
    # "*" for any) and the request rate per key and client address
    sdk_client_origins: str = ""
    sdk_client_rate_limit: str = "600/minute"

    # security (docs/security.md): password strength floor (zxcvbn score 0-4); who must use MFA
    # (off | admins | everyone: local accounts without it may only enrol until they do); attempts at
    # an MFA code per account; refresh sessions unused this long end (0: only the token TTL applies)
    password_min_score: int = Field(default=3, ge=0, le=4)
    mfa_required: Literal["off", "admins", "everyone"] = "off"
    mfa_rate_limit: str = "5/minute"
    mfa_issuer: str = "Experimently"
    session_idle_timeout_seconds: int = Field(default=0, ge=0)
    # the key ring for data encrypted at rest: comma-separated Fernet keys, newest first (it encrypts,
    # every key decrypts). Embedded: generated into DATA_DIR when unset; required with an external DB.
    encryption_keys: SecretStr | None = None
    # event property names stored encrypted, per environment: ``production=email|phone,*=ssn``
    # (``*``: every environment) or a JSON object of lists
    pii_properties: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    # base of the ``documentation_url`` in error bodies (default: the page this server serves)
    errors_docs_url: str = "/api/errors"

    @field_validator(
        "login_rate_limit",
        "api_key_rate_limit",
        "unknown_api_key_rate_limit",
        "sdk_client_rate_limit",
        "mfa_rate_limit",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """Refused at start (each was parsed only at its first use, and a typo answered 500 then)."""
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a rate limit such as '10/minute' or '5 per second'") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"'{value}' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            scheme = value.split("://", 1)[0] if "://" in value else value[:20]
            raise ValueError(
                f"'{scheme}' is not supported: use postgresql+asyncpg://user@host:5432/db (PostgreSQL), "
                "or leave it unset for the embedded SQLite database"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL (e.g. redis://127.0.0.1:6379/0)")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _parse_role_map(cls, value: Any) -> Any:
        """``group=role,group2=role2`` or a JSON object."""
        if isinstance(value, str):
            pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
            return {group.strip(): role.strip() for group, role in pairs}
        return value

    @field_validator("pii_properties", mode="before")
    @classmethod
    def _parse_pii(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("{"):
                return json.loads(value)
            pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
            return {env.strip(): [n.strip() for n in names.split("|") if n.strip()] for env, names in pairs}
        return value

    def pii_for(self, environment: str | None) -> frozenset[str]:
        """The PII property names of one environment (its own list plus the ``*`` list)."""
        return frozenset(self.pii_properties.get(environment or "", [])) | frozenset(
            self.pii_properties.get("*", [])
        )

    @property
    def is_embedded(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'experimently.db'}"

    @property
    def secret(self) -> str:
        if self.secret_key is None:
            raise RuntimeError("settings not resolved: call resolve() first")
        return self.secret_key.get_secret_value()

    def resolve(self) -> Settings:
        """Check the settings that must agree, create the data dir, and load or generate the signing
        secret (never a hard-coded default)."""
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError(
                "EXPERIMENTLY_OIDC_AUDIENCE is required with EXPERIMENTLY_OIDC_ISSUER "
                "(without it any token of that issuer, for any application, would be accepted)"
            )
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("EXPERIMENTLY_SECRET_KEY must be at least 32 characters")
        if self.is_embedded:  # only the embedded shape keeps files (the database, the secret)
            # the owner's only (a new directory): it holds the database and the secrets
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.secret_key is None:
            if not self.is_embedded:
                raise ValueError(
                    "EXPERIMENTLY_SECRET_KEY is required with an external database: every "
                    "instance must sign and verify tokens with the same secret"
                )
            self.secret_key = SecretStr(_load_or_create_secret(self.data_dir / SECRET_FILE))
        if self.encryption_keys is None:
            if not self.is_embedded:
                raise ValueError(
                    "EXPERIMENTLY_ENCRYPTION_KEYS is required with an external database: every instance "
                    "must decrypt webhook secrets, TOTP seeds and PII properties with the same key ring "
                    "(generate one with 'experimently encryption generate-key')"
                )
            self.encryption_keys = SecretStr(_load_or_create_secret(self.data_dir / KEYS_FILE, _fernet_key))
        from experimently.encryption.keyring import parse_keys  # a key that is not one: refused at start

        parse_keys(self.encryption_keys.get_secret_value())
        return self


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _load_or_create_secret(path: Path, generate: Callable[[], str] | None = None) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created earlier, or by a process starting at the same moment
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"{path} exists but is empty") from None
    value = generate() if generate else secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides).resolve()
