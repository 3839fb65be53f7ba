"""Delivering what was not sent in a customer's turn: an agent's reply, a notice, the bot's
words after a handoff — from the API's log to the customer's channel.

The API publishes every logged message on the bus. Messages already sent in the turn
come marked `delivered`; the others are delivered here, by one gateway of the group
(`DELIVERY_GROUP`), and reported back as delivered. The web channel pushes to the
sockets a gateway holds itself (`bot/channels/web.py`).

When an agent ends a handoff (agent → bot), the bot takes the conversation back and asks
the customer to rate the conversation's ticket (S4.6, S9.2): the gateway triggers the
`give_feedback` intent with the ticket's reference in Rasa, and the bot's words are
logged for delivery like an agent's.
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from bot.api_client import ApiClient, ApiRefused, ApiUnavailable
from bot.channels.base import Channel
from bot.messages import Reply
from bot.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger(__name__)

DELIVERY_GROUP = "gateway-delivery"
RATABLE = ("resolved", "closed")  # as the API's feedback rule has it
SEND_ATTEMPTS = 4


def handed_back(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == "conversation"
        and event.get("previous_mode") == "agent"
        and event.get("mode") == "bot"
    )


def undelivered_outbound(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == "message"
        and event.get("direction") == "out"
        and not event.get("delivered")
    )


class Deliverer:
    def __init__(self, api: ApiClient, rasa: RasaClient, channels: dict[str, Channel]) -> None:
        self.api = api
        self.rasa = rasa
        self.channels = channels

    async def handle(self, event: dict[str, Any]) -> None:
        """A bus event of the delivery group."""
        if handed_back(event):
            await self.ask_for_rating(event)
        elif undelivered_outbound(event) and event["channel"] != "web":
            await self.deliver(event)

    async def ask_for_rating(self, event: dict[str, Any]) -> None:
        conversation_id = event["conversation_id"]
        try:
            conversation = await self.api.request("GET", f"/conversations/{conversation_id}")
            ref = conversation.get("ticket_ref")
            if not ref:
                return  # nothing to rate
            ticket = await self.api.request("GET", f"/tickets/{ref}")
            if ticket["status"] not in RATABLE:
                return  # not resolved: nothing to rate yet
            sender = f"{event['channel']}:{event['external_id']}"
            replies = await self.rasa.trigger_intent(sender, "give_feedback", {"ticket_ref": ref})
            if replies:
                await self.api.log_outbound(conversation_id, replies, delivered=False)
        except (ApiUnavailable, ApiRefused, RasaUnavailable) as exc:
            log.warning("no rating asked in conversation %s: %s", conversation_id, exc)

    async def deliver(self, event: dict[str, Any]) -> None:
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
