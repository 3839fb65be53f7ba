"""The gateway's client for the Rasa server: its REST channel and its HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from bot.messages import Reply
from bot.settings import GatewaySettings


class RasaUnavailable(Exception):
    """Rasa did not answer in time, or answered with an error."""


class RasaClient:
    def __init__(
        self, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self._client = httpx.AsyncClient(
            base_url=settings.rasa_base, timeout=settings.rasa_timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = await self._client.post(path, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"POST {path}: {exc!r}") from exc

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[Reply]:
        """One customer turn through the REST channel; the bot's replies."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        return [Reply.from_rasa(m) for m in await self._post("/webhooks/rest/webhook", body)]

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[Reply]:
        """Make the bot act as if the customer had said `intent` (e.g. after a handoff)."""
        found = await self._post(
            f"/conversations/{sender_id}/trigger_intent",
            {"name": intent, "entities": entities or {}},
        )
        return [Reply.from_rasa(m) for m in found.get("messages", [])]
