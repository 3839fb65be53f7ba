"""The gateway's client for the API: conversations, their log and the handoff.

No retries here: a turn that cannot reach the API goes into degraded mode at once (the
customer is told, the message spooled) and the spool is replayed when the API is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.messages import Inbound, Reply
from bot.settings import GatewaySettings

log = logging.getLogger(__name__)


class ApiUnavailable(Exception):
    """The API did not answer (down, timeout, 5xx): nothing can be assumed written."""


class ApiRefused(Exception):
    """The API answered 4xx: the request was wrong or not allowed now."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Logged:
    conversation: dict[str, Any]
    message_id: int
    duplicate: bool


class ApiClient:
    def __init__(
        self, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=f"{settings.api_base}/api/v1",
            timeout=settings.api_timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._settings.token()}"}
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ApiUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: {response.status_code}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise ApiRefused(response.status_code, detail)
        return response.json()

    async def inbound(self, message: Inbound) -> Logged:
        body = {
            "channel": message.channel,
            "external_id": message.external_id,
            "language": message.language,
            "text": message.text,
            "payload": {"button": message.payload} if message.payload else None,
            "channel_message_id": message.channel_message_id,
        }
        found = await self.request("POST", "/inbound", json=body)
        return Logged(found["conversation"], found["message_id"], found["duplicate"])

    async def log_outbound(
        self,
        conversation_id: int,
        replies: list[Reply],
        sender: str = "bot",
        *,
        delivered: bool = True,
    ) -> list[int]:
        """Log what the bot says; `delivered=False` leaves the sending to the deliverers."""
        body = {
            "sender": sender,
            "messages": [reply.for_log() for reply in replies],
            "delivered": delivered,
        }
        logged = await self.request("POST", f"/conversations/{conversation_id}/outbound", json=body)
        return [item["id"] for item in logged]

    async def hand_off(
        self, conversation_id: int, reason: str, summary: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"reason": reason, "summary": summary}
        return await self.request("POST", f"/conversations/{conversation_id}/handoff", json=body)

    async def find_conversation(self, channel: str, external_id: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/conversations/by-channel/{channel}/{external_id}")
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise

    async def messages(
        self, conversation_id: int, *, after_id: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        params = {"after_id": after_id, "limit": limit}
        return await self.request(
            "GET", f"/conversations/{conversation_id}/messages", params=params
        )

    async def mark_delivered(self, conversation_id: int, message_id: int) -> None:
        await self.request(
            "POST", f"/conversations/{conversation_id}/messages/{message_id}/delivered"
        )

    async def redeliver(self, conversation_id: int, message_id: int) -> None:
        await self.request(
            "POST", f"/conversations/{conversation_id}/messages/{message_id}/redeliver"
        )

    async def message(self, conversation_id: int, message_id: int) -> dict[str, Any] | None:
        found = await self.messages(conversation_id, after_id=message_id - 1, limit=1)
        return found[0] if found and found[0]["id"] == message_id else None
