"""Delivering what was not sent in a customer's turn: an agent's reply, a notice, the bot's
words after a handoff — from the API's log to the customer's channel.

The API publishes every logged message on the bus. Messages already sent in the turn
come marked `delivered`; the others are delivered here, by one gateway of the group
(`DELIVERY_GROUP`), and reported back as delivered. The web channel pushes to the
sockets a gateway holds itself (`bot/channels/web.py`).
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from bot.api_client import ApiClient
from bot.channels.base import Channel
from bot.messages import Reply

log = logging.getLogger(__name__)

DELIVERY_GROUP = "gateway-delivery"
SEND_ATTEMPTS = 4


def undelivered_outbound(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == "message"
        and event.get("direction") == "out"
        and not event.get("delivered")
    )


class Deliverer:
    def __init__(self, api: ApiClient, channels: dict[str, Channel]) -> None:
        self.api = api
        self.channels = channels

    async def handle(self, event: dict[str, Any]) -> None:
        """A bus event of the delivery group."""
        if not undelivered_outbound(event) or event["channel"] == "web":
            return
        channel = self.channels.get(event["channel"])
        if channel is None:
            log.warning("no %s channel configured: message %s waits", event["channel"],
                        event["message_id"])  # fmt: skip
            return
        message = await self.api.message(event["conversation_id"], event["message_id"])
        if message is None or message.get("delivered_at"):
            return
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(SEND_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        ):
            with attempt:
                await channel.send(event["external_id"], [Reply.from_log(message)])
        await self.api.mark_delivered(event["conversation_id"], event["message_id"])
