"""Where a customer's message goes: the one path every channel's inbound message takes.

1. It is logged in the API (S12.3) — once per channel message id, so a redelivery is
   recognised and not processed again — before the channel is told it was received.
2. The conversation's mode decides: `bot` → Rasa's REST webhook, the replies logged and
   returned to the channel; `waiting` / `agent` → nothing more here, the console shows it
   and the agent answers through the bus.
3. Degraded mode (S5.6): if Rasa does not answer, the customer is told so honestly and
   the conversation is queued for an agent; if the API does not answer, the message is
   spooled by the gateway (`bot/state.py`) and the customer told it is kept. The spool
   is replayed when the API is back (`bot/spool.py`). Nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot import texts
from bot.api_client import ApiClient, ApiRefused, ApiUnavailable
from bot.messages import Delivery, Inbound, Reply, language_of
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

BOT = "bot"
# handoff reasons the gateway gives (the bot gives its own, e.g. customer_request)
ASSISTANT_DOWN = "assistant_unavailable"
SERVICE_DOWN = "service_interrupted"


class TurnLocks:
    """One turn at a time per conversation, so replies keep the order of the messages."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        self._users[key] += 1
        try:
            async with self._locks[key]:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def spooled_inbound(message: Inbound) -> dict:
    return {"kind": "inbound", "inbound": message.to_dict()}


class Router:
    def __init__(
        self, settings: GatewaySettings, api: ApiClient, rasa: RasaClient, state: State
    ) -> None:
        self.settings = settings
        self.api = api
        self.rasa = rasa
        self.state = state
        self._turns = TurnLocks()

    def _say(self, key: str, message: Inbound, language: str | None = None) -> Reply:
        lang = language or language_of(message.text, message.language)
        return texts.reply(key, lang, hotline=self.settings.hotline)

    async def receive(self, message: Inbound) -> Delivery:
        """Log, route and answer one inbound message; the replies for its channel."""
        async with self._turns.hold(message.sender_id):
            try:
                logged = await self.api.inbound(message)
            except ApiUnavailable as exc:
                log.warning("API unavailable, message spooled: %s", exc)
                await self.state.spool(spooled_inbound(message))
                return Delivery([self._say("service_down", message)], spooled=True)
            conversation = logged.conversation
            delivery = Delivery(
                duplicate=logged.duplicate,
                message_id=logged.message_id,
                conversation_id=conversation["id"],
            )
            if logged.duplicate or conversation["mode"] != BOT:
                return delivery
            try:
                replies = await self.rasa.send(
                    message.sender_id, message.for_rasa, {"channel": message.channel}
                )
            except RasaUnavailable as exc:
                log.warning("Rasa unavailable, conversation queued for agents: %s", exc)
                delivery.replies = await self._assistant_down(conversation, message)
                return delivery
            delivery.replies = await self.log_replies(conversation["id"], replies)
            return delivery

    async def log_replies(
        self, conversation_id: int, replies: list[Reply], sender: str = BOT
    ) -> list[Reply]:
        """Log what goes to the customer; the replies with their log ids (without, and
        spooled for the log, if the API is gone meanwhile)."""
        if not replies:
            return []
        try:
            ids = await self.api.log_outbound(conversation_id, replies, sender)
        except ApiUnavailable:
            await self.state.spool(
                {
                    "kind": "outbound",
                    "conversation_id": conversation_id,
                    "sender": sender,
                    "replies": [r.for_log() for r in replies],
                }
            )
            return replies
        return [reply.with_id(message_id) for reply, message_id in zip(replies, ids, strict=True)]

    async def not_sent(self, delivery: Delivery) -> None:
        """The channel could not send the turn's replies (logged as sent): they go to the
        deliverers, which try again (`bot/delivery.py`)."""
        if delivery.conversation_id is None:
            return
        for reply in delivery.replies:
            if reply.message_id is None:
                continue
            try:
                await self.api.redeliver(delivery.conversation_id, reply.message_id)
            except (ApiUnavailable, ApiRefused) as exc:
                log.warning("reply %s left undelivered: %s", reply.message_id, exc)

    async def _assistant_down(self, conversation: dict, message: Inbound) -> list[Reply]:
        """Rasa is down: queue the conversation for an agent and say so."""
        reply = self._say("assistant_down", message, conversation.get("language"))
        summary = {"note": "the assistant did not answer", "last_message": message.text}
        try:
            await self.api.hand_off(conversation["id"], ASSISTANT_DOWN, summary)
        except ApiUnavailable:
            await self.state.spool(
                {"kind": "handoff", "conversation_id": conversation["id"], "summary": summary}
            )
        except ApiRefused as exc:  # e.g. an agent took it meanwhile
            log.info("handoff of conversation %s refused: %s", conversation["id"], exc)
        return await self.log_replies(conversation["id"], [reply], sender="system")
