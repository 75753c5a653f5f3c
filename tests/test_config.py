"""Settings: URL normalization, the default database location, and rejected combinations."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ainotes.core.config import Settings, get_settings, normalize_database_url


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://app:pw@db.example:5432/notes",
            "postgres://app:pw@db.example:5432/notes",
            "postgresql+psycopg://app:pw@db.example:5432/notes",
        ],
    )
    def test_postgres_urls_use_asyncpg(self, url: str) -> None:
        settings = make_settings(database_url=url)
        assert settings.effective_database_url == (
            "postgresql+asyncpg://app:pw@db.example:5432/notes"
        )
        assert not settings.is_sqlite

    def test_asyncpg_url_is_kept(self) -> None:
        url = "postgresql+asyncpg://app@localhost/notes"
        assert normalize_database_url(url) == url

    def test_plain_sqlite_url_uses_aiosqlite(self, tmp_path: Path) -> None:
        settings = make_settings(database_url=f"sqlite:///{tmp_path}/x.db")
        assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/x.db"
        assert settings.is_sqlite

    def test_default_is_a_sqlite_file_under_data_dir(self, tmp_path: Path) -> None:
        settings = make_settings(data_dir=tmp_path / "store")
        assert settings.effective_database_url == (
            f"sqlite+aiosqlite:///{tmp_path / 'store' / 'ainotes.db'}"
        )
        assert settings.is_sqlite


class TestEnvironment:
    def test_settings_are_read_from_prefixed_environment(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("AINOTES_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("AINOTES_MAX_PAGE_SIZE", "300")
        monkeypatch.chdir(tmp_path)  # no stray .env file is picked up
        get_settings.cache_clear()
        try:
            settings = get_settings()
            assert settings.data_dir == tmp_path
            assert settings.max_page_size == 300
        finally:
            get_settings.cache_clear()


class TestRejectedSettings:
    def test_default_page_size_above_max(self) -> None:
        with pytest.raises(ValidationError, match="default_page_size"):
            make_settings(default_page_size=100, max_page_size=50)

    def test_default_page_size_equal_to_max_is_accepted(self) -> None:
        assert make_settings(default_page_size=50, max_page_size=50).default_page_size == 50

    def test_jwt_issuer_without_a_key(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of"):
            make_settings(jwt_issuer="https://id.example", jwt_audience="ainotes")

    def test_jwt_with_two_keys(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="exactly one of"):
            make_settings(
                jwt_issuer="https://id.example",
                jwt_audience="ainotes",
                jwt_hs256_secret="s" * 32,
                jwt_jwks_file=tmp_path / "jwks.json",
            )

    def test_jwt_without_audience(self) -> None:
        with pytest.raises(ValidationError, match="jwt_audience"):
            make_settings(jwt_issuer="https://id.example", jwt_hs256_secret="s" * 32)

    def test_short_hs256_secret(self) -> None:
        with pytest.raises(ValidationError, match="at least 32 bytes"):
            make_settings(
                jwt_issuer="https://id.example", jwt_audience="ainotes", jwt_hs256_secret="short"
            )

    def test_complete_jwt_settings_are_accepted(self) -> None:
        settings = make_settings(
            jwt_issuer="https://id.example", jwt_audience="ainotes", jwt_hs256_secret="s" * 32
        )
        assert settings.jwt_enabled

    @pytest.mark.parametrize(
        ("field", "value"),
        [("port", 0), ("max_page_size", 0), ("log_level", "verbose"), ("workers", 0)],
    )
    def test_out_of_range_values(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError, match=field):
            make_settings(**{field: value})


ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def test_env_example_documents_every_setting() -> None:
    """README promises that .env.example lists every setting; each as AINOTES_NAME=… (or
    commented out), and every line it sets names a real setting."""
    text = ENV_EXAMPLE.read_text()
    for name in Settings.model_fields:
        assert f"AINOTES_{name.upper()}=" in text, f"AINOTES_{name.upper()} is not documented"
    known = {f"AINOTES_{name.upper()}" for name in Settings.model_fields}
    for line in text.splitlines():
        stripped = line.lstrip("# ")
        if stripped.startswith("AINOTES_") and "=" in stripped:
            assert stripped.split("=", 1)[0] in known, line


def test_env_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("AINOTES_") and "=" in line:
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    Settings(_env_file=None)  # type: ignore[call-arg]
