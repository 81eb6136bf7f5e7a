"""Settings that must agree are refused at start, with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from experimently.config import Settings


def test_embedded__secret_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolve().secret
    second = Settings(data_dir=tmp_path).resolve().secret
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"oidc_issuer": "https://idp.example.com"}, "OIDC_AUDIENCE"),
        ({"secret_key": "short"}, "at least 32"),
        ({"database_url": "postgresql+asyncpg://u@h/db"}, "SECRET_KEY is required"),
    ],
)
def test_inconsistent_settings__refused(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(data_dir=tmp_path, **overrides).resolve()  # type: ignore[arg-type]  # settings' own _options


def test_cors_origins__comma_separated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERIMENTLY_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(data_dir=tmp_path).cors_origins == ["https://a.example", "https://b.example"]
