"""Configuration of the action server, from the environment (read once)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    api_url: str
    service_token_file: Path
    service_token: str | None
    timeout: float
    attempts: int
    tz: ZoneInfo

    @classmethod
    def from_env(cls) -> Settings:
        var_dir = Path(os.environ.get("VAR_DIR", "var"))
        return cls(
            api_url=os.environ.get(
                "API_URL", f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}"
            ),
            service_token_file=Path(
                os.environ.get("SERVICE_TOKEN_FILE", str(var_dir / "service_token"))
            ),
            service_token=os.environ.get("SERVICE_TOKEN") or None,
            timeout=float(os.environ.get("API_TIMEOUT", "5")),
            attempts=int(os.environ.get("API_ATTEMPTS", "3")),
            tz=ZoneInfo(os.environ.get("TIMEZONE", "Asia/Shanghai")),
        )

    def today(self) -> date:
        """Today in the service's time zone (relative dates are read against it)."""
        return datetime.now(self.tz).date()

    def token(self) -> str:
        """`SERVICE_TOKEN`, or the token the API generated under `VAR_DIR` at start-up."""
        if self.service_token:
            return self.service_token
        try:
            return self.service_token_file.read_text().strip()
        except OSError as exc:
            raise RuntimeError(
                f"no SERVICE_TOKEN and {self.service_token_file} cannot be read: {exc}"
            ) from exc


@cache
def settings() -> Settings:
    """The action server's settings, read from the environment on first use."""
    return Settings.from_env()
