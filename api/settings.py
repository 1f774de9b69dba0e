"""Service settings from the environment (DATABASE_URL, HOST, PORT, …), built once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
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
    admin_token: str | None = Field(default=None, description="bureau admin bearer token")
    max_body_bytes: int = 256 * 1024
    train_epochs: int = 30
    history_enterprises: int = 20_000
    train_threads: int = 2

    @property
    def model_dir(self) -> Path:
        return self.var_dir / "models"


@cache
def get_settings() -> Settings:
    return Settings()
