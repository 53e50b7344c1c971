"""Settings from the environment (or a `.env` file)."""

from __future__ import annotations

import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFTERSALES_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'aftersales.db'}",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; postgresql://user@host/db for production.",
    )
    secret_key: str = Field(default="", description="Signs access tokens; shared by all workers.")
    token_ttl_minutes: int = 8 * 60
    user_cache_seconds: float = Field(
        default=5, ge=0, description="How long a worker trusts what it read of a token's user."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    first_open_day: date = Field(
        default=date(2020, 1, 1),
        description="No entry may be dated before it (YYYY-MM-DD); period closing moves it.",
    )
    time_zone: str = Field(
        default="Asia/Shanghai",
        description="Where the business day is reckoned: an entry may be dated up to today there.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name") from None
        return value

    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body (413 past it); a 20,000-line stock count fits.",
    )

    jobs_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'jobs.db'}",
        description="Where job ids wait for a worker (huey's storage): sqlite:///file (the "
        "embedded default), postgresql://… or redis://… (the `redis` extra) in production.",
    )
    job_heartbeat_timeout: float = Field(
        default=60,
        gt=0,
        description="Seconds without a heartbeat after which a running job counts as "
        "interrupted (its worker died); a worker beats every quarter of it.",
    )
    job_modules: str = Field(
        default="",
        description="Modules defining job kinds beyond the ledger's own, comma-separated "
        "(imported by the worker and the web process).",
    )

    console_session_hours: float = Field(
        default=12, gt=0, description="A console sign-in ends this long after it began."
    )
    console_idle_minutes: float = Field(
        default=30, gt=0, description="A console sign-in ends after this long without a request."
    )
    console_secure_cookies: bool = Field(
        default=True,
        description="Console cookies are sent over HTTPS only (browsers also allow them on "
        "http://localhost and 127.0.0.1); turn off only behind a trusted plain-HTTP network.",
    )

    def signing_key(self) -> str:
        """The configured key, else one generated once and kept under ./var/."""
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret_key"
        if not path.exists():
            VAR_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
