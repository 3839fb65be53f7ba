"""What `make run` prints before it starts the processes: where to open what.

Run as `python -m scripts.banner --api-port PORT --rasa-port PORT` from the project root.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from api.settings import get_settings
from bot.settings import get_settings as gateway_settings


def _shown(path: Path) -> str:
    """`path` relative to the working directory where it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-port", default="8000")
    parser.add_argument("--rasa-port", default="5005")
    args = parser.parse_args()

    settings = get_settings()
    if settings.service_token:
        token = "the SERVICE_TOKEN environment variable"
    else:
        token = _shown(settings.var_dir / "service_token")
    api = f"http://127.0.0.1:{args.api_port}"
    rasa = f"http://127.0.0.1:{args.rasa_port}"
    gateway = gateway_settings()
    if not gateway.telegram_enabled:
        telegram = "off (set TELEGRAM_BOT_TOKEN)"
    elif gateway.telegram_webhook_url:
        telegram = f"webhook {gateway.telegram_webhook_url}"
    else:
        telegram = "on, long polling"
    wecom = (
        f"callback {api}/channels/wecom/callback"
        if gateway.wecom_enabled
        else "off (set WECOM_CORP_ID, WECOM_TOKEN, WECOM_ENCODING_AES_KEY…)"
    )
    print(
        f"""
  agent console        {api}/console/  (log in as a supervisor: see "first supervisor")
  web chat (demo page) {api}/
  embed the widget     <script src="{api}/widget.js" async></script>
  Telegram             {telegram}
  WeCom                {wecom}
  API docs (OpenAPI)   {api}/docs
  health check         {api}/healthz
  the assistant        {rasa}/webhooks/rest/webhook  (Rasa's REST channel; README: Talk to it)
  database             {settings.safe_db_url}
  service token        {token}  (service clients send: Authorization: Bearer <token>)
  first supervisor     .venv/bin/python -m api create-user NAME --role supervisor
  stop everything      Ctrl-C
"""
    )


if __name__ == "__main__":
    main()
