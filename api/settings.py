"""Service settings from the environment (DATABASE_URL, HOST, PORT, …), built once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'investmatch.db'}",
        description="SQLAlchemy URL; PostgreSQL e.g. postgresql+psycopg://user:pw@127.0.0.1:5432/db",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = ROOT / "data"
    var_dir: Path = ROOT / "var"
    # where fitted reference models (the industry classifier) are kept; default VAR_DIR/cache
    cache_dir: Path | None = None
    admin_token: str | None = Field(default=None, description="bureau admin bearer token")
    max_body_bytes: int = 256 * 1024
    train_epochs: int = 30
    history_enterprises: int = Field(
        default=20_000,
        description="size of the synthetic history written by demo mode (DEMO=1) only",
    )
    demo: bool = Field(
        default=False,
        description="demo mode (`make demo`): an empty database gets the synthetic history, and "
        "every page and response is marked 演示数据; never set it for a bureau's database",
    )
    train_threads: int = 2
    leads_wait_seconds: float = Field(
        default=8.0,
        ge=0,
        description="how long a leads request waits for the enterprise pool to be indexed before "
        "it answers 503 (正在建立索引) with Retry-After",
    )
    leads_warm: bool = Field(
        default=True,
        description="score the whole enterprise pool in the background at start, so that the "
        "first leads request does not wait for it",
    )
    rate_limit_per_minute: int = Field(
        default=60,
        ge=0,
        description="self-checks (POST /v1/match, POST /) a client address may "
        "send per minute; 0 turns the limit off",
    )
    cors_origins: str = Field(
        default="",
        description="comma-separated origins allowed to call the API from a browser; "
        "empty (the default) sends no CORS headers at all",
    )
    csrf_secret: SecretStr | None = Field(
        default=None,
        description="key that signs the forms' CSRF tokens; without it each process "
        "makes a random one (forms open across a restart must then be reloaded)",
    )

    session_secret: SecretStr | None = Field(
        default=None,
        description="key that signs the bureau's session cookies; without it each process "
        "makes a random one (bureau users must then log in again after a restart, and every "
        "worker of a multi-process deployment needs the same key)",
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def model_dir(self) -> Path:
        return self.var_dir / "models"

    @property
    def reference_cache(self) -> Path:
        return self.cache_dir or self.var_dir / "cache"


@cache
def get_settings() -> Settings:
    return Settings()
