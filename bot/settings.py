"""Configuration of the gateway (`bot/`), from the environment (one `GatewaySettings`).

Nothing else in `bot/` reads `os.environ`. The defaults are the embedded setup: the
API, Rasa and the gateway on 127.0.0.1, state in a SQLite file under `VAR_DIR`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    var_dir: Path = ROOT / "var"
    api_port: int = 8000
    api_url: str = Field(default="", description="default http://127.0.0.1:$API_PORT")
    api_timeout: float = Field(default=5, gt=0)
    service_token: str = ""
    service_token_file: Path | None = Field(default=None, description="default var/…")
    rasa_port: int = 5005
    rasa_url: str = Field(default="", description="default http://127.0.0.1:$RASA_PORT")
    rasa_timeout: float = Field(default=10, gt=0, description="seconds for one bot turn")
    redis_url: str = Field(default="", description="shared state and bus of several gateways")
    hotline: str = "400-800-1234"
    spool_retry_seconds: float = Field(default=5, gt=0)

    telegram_bot_token: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str = Field(default="", description="set: webhook mode, else polling")
    telegram_webhook_secret: str = ""
    telegram_poll_timeout: int = Field(default=30, ge=0)

    wecom_corp_id: str = ""
    wecom_token: str = ""
    wecom_encoding_aes_key: str = ""
    wecom_kf_secret: str = ""
    wecom_agent_id: str = ""
    wecom_app_secret: str = ""
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"

    @property
    def api_base(self) -> str:
        return (self.api_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    @property
    def rasa_base(self) -> str:
        return (self.rasa_url or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")

    def token(self) -> str:
        """`SERVICE_TOKEN`, or the token the API generated under `VAR_DIR`."""
        if self.service_token.strip():
            return self.service_token.strip()
        path = self.service_token_file or self.var_dir / "service_token"
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise RuntimeError(f"no SERVICE_TOKEN and {path} cannot be read: {exc}") from exc

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_token and self.wecom_encoding_aes_key)


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
