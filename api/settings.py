"""All configuration, read from the environment (one `Settings` object).

Nothing else in the project reads `os.environ`. Secrets that are not given in the
environment are generated once under `VAR_DIR` (the embedded default) and never
committed.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def _generated_secret(path: Path, nbytes: int = 32) -> str:
    """Read a secret from `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    var_dir: Path = Field(default=ROOT / "var", description="Where the embedded defaults live")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite under var/")
    secret_key: str = Field(default="", description="Master key for encryption, hashing, tokens")
    service_token: str = Field(default="", description="Bearer token of service clients")

    timezone: str = "Asia/Shanghai"
    business_hours_start: str = "09:00"
    business_hours_end: str = "18:00"
    business_days: str = "mon,tue,wed,thu,fri"

    auto_close_hours: int = Field(default=72, ge=1, description="S6.4 acceptance timeout")
    sla_check_seconds: int = Field(default=60, ge=0, description="0 disables the in-process job")
    csat_target: float = Field(default=4.5, ge=1, le=5)
    sla_compliance_target: float = Field(default=0.9, gt=0, le=1, description="S5.2 target")
    # the cost model of the service report (S4.4): what an agent hour, a conversation and a
    # technician's visit cost; the defaults are illustrative, set your own
    cost_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    cost_per_agent_hour: float = Field(default=60.0, ge=0)
    cost_per_conversation: float = Field(default=0.5, ge=0, description="bot and channel")
    cost_per_field_visit: float = Field(default=80.0, ge=0)
    # QA sampling of closed tickets (S8.2): the share drawn when a sample names no size, the
    # share of the checklist's points a ticket needs to pass, and the business hours the
    # handler has to rectify a failed one
    qa_sample_share: float = Field(default=0.1, gt=0, le=1)
    qa_pass_threshold: float = Field(default=0.8, gt=0, le=1)
    qa_rectify_hours: int = Field(default=27, ge=1, description="business hours")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    access_token_minutes: int = Field(default=8 * 60, ge=1)
    log_level: str = "INFO"
    redis_url: str = Field(default="", description="the bus to gateways in other processes")
    embed_gateway: bool = Field(default=True, description="mount the gateway (bot/) on this app")
    demo_data: bool | None = Field(
        default=None, description="Seed the demo catalogue; default: only on the embedded SQLite"
    )

    @field_validator("database_url", "secret_key", "service_token")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'servicedesk.db'}"

    @property
    def seeds_demo(self) -> bool:
        return self.demo_data if self.demo_data is not None else not self.database_url

    @property
    def safe_db_url(self) -> str:
        """The database URL without its password, for printing."""
        return make_url(self.db_url).render_as_string(hide_password=True)

    @cached_property
    def master_key(self) -> str:
        return self.secret_key or _generated_secret(self.var_dir / "secret_key")

    @cached_property
    def service_bearer(self) -> str:
        return self.service_token or _generated_secret(self.var_dir / "service_token")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        """Today's date in the configured time zone."""
        return datetime.now(self.tz).date()


@lru_cache
def get_settings() -> Settings:
    return Settings()
