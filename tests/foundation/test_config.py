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


async def test_embedded__data_dir_and_database_are_the_owners_only(tmp_path: Path) -> None:
    """A new data directory and SQLite database (and its -wal / -shm files) are not readable by other
    local accounts: they hold password and key hashes, sessions and the audit trail."""
    from sqlalchemy import text

    from experimently.db import make_engine
    from experimently.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "data").resolve()
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
    engine = make_engine(settings)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while it is open
            await conn.execute(text("SELECT count(*) FROM flags"))
            files = sorted(p.name for p in settings.data_dir.glob("experimently.db*"))
            assert files == ["experimently.db", "experimently.db-shm", "experimently.db-wal"]
            for name in files:
                assert (settings.data_dir / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        await engine.dispose()


def test_database_file__an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    from experimently.db import private_sqlite_file

    existing = tmp_path / "kept.db"
    existing.touch(mode=0o640)
    existing.chmod(0o640)
    private_sqlite_file(f"sqlite+aiosqlite:///{existing}")
    assert existing.stat().st_mode & 0o777 == 0o640
    # no directory: left to SQLite, which says so
    private_sqlite_file(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    private_sqlite_file("sqlite+aiosqlite:///:memory:")
    assert not (tmp_path / "missing").exists()
