"""Settings, read once from the environment (prefix ``AINOTES_``) and validated at startup."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AINOTES_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means "a SQLite file under data_dir"; postgresql://… switches the backend.
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # How long a SQLite writer waits for the lock before giving up.
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    # Run SQLite statements on the event loop's thread instead of a worker thread per
    # connection: much cheaper for the short statements of an API, but a long one (a search
    # over a very large workspace, a big proposal applied) holds up other requests while it runs.
    sqlite_inline: bool = True

    # How long a verified token's access to a workspace is remembered for reads, in seconds
    # (0: never). Writes always check the database. A revocation or membership change made
    # through this process applies at once; one made through another process (the CLI, another
    # server copy) is seen by this one's reads within this time.
    access_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    # Browser origins allowed to call the API (comma-separated, e.g. https://notes.example.com);
    # empty: no CORS headers at all, for API clients that are not browsers.
    cors_origins: str = ""

    # FastAPI's own OpenTelemetry spans, metrics and logs of each request, through the globally
    # configured providers (opentelemetry-sdk, set up by your code or opentelemetry-instrument).
    # Off by default: without providers it records nothing, yet still looks them up on every
    # request, about a tenth of the cost of a request that does no I/O.
    opentelemetry: bool = False

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    max_request_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_note_body_chars: int = Field(default=1_000_000, ge=1)
    # Attachment uploads stream to storage, so they may be far larger than other bodies.
    max_attachment_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    default_page_size: int = Field(default=50, ge=1, le=1000)

    # How long a completed Idempotency-Key is remembered, and how long a claim may stay
    # in progress before a retry may take it over (a crashed request's claim).
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    idempotency_lock_timeout_seconds: int = Field(default=60, ge=1, le=3600)

    # How long an agent's proposal waits for a decision before it expires, unless the
    # workspace's proposal policy says otherwise.
    proposal_ttl_hours: int = Field(default=24 * 7, ge=1, le=24 * 365)

    # Create an admin user and print its token on the first `serve` against an empty database.
    bootstrap_admin: bool = True

    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_hs256_secret: SecretStr | None = None
    jwt_public_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    # Create a user the first time a valid JWT names an unknown subject.
    jwt_create_users: bool = False

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def effective_database_url(self) -> str:
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / 'ainotes.db'}"
        return normalize_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def jwt_enabled(self) -> bool:
        return self.jwt_issuer is not None

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must not exceed max_page_size")
        if self.jwt_enabled:
            keys = [self.jwt_hs256_secret, self.jwt_public_key_file, self.jwt_jwks_file]
            if sum(k is not None for k in keys) != 1:
                raise ValueError(
                    "JWT needs exactly one of jwt_hs256_secret, jwt_public_key_file, jwt_jwks_file"
                )
            if self.jwt_audience is None:
                raise ValueError("jwt_audience is required when jwt_issuer is set")
            secret = self.jwt_hs256_secret
            # RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
            if secret is not None and len(secret.get_secret_value().encode()) < 32:
                raise ValueError("jwt_hs256_secret must be at least 32 bytes")
        return self


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver for them."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
