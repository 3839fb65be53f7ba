"""Replaying what the API could not take (degraded mode, S5.6).

Spooled items are replayed in order once the API answers again: an inbound message is
logged (idempotent: its channel message id makes a second replay a no-op), the
conversation queued for an agent — the customer was told one would follow up — and what
the customer was told is logged beside it. One gateway replays at a time (a lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot import texts
from bot.api_client import ApiClient, ApiRefused, ApiUnavailable
from bot.messages import Inbound, Reply, language_of
from bot.routing import SERVICE_DOWN
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

LEASE = "spool:lease"
LEASE_SECONDS = 60


class Replayer:
    def __init__(self, settings: GatewaySettings, api: ApiClient, state: State) -> None:
        self.settings = settings
        self.api = api
        self.state = state
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Replay forever: every `SPOOL_RETRY_SECONDS`, or at once when woken."""
        while True:
            try:
                await self.replay()
            except Exception:
                log.exception("spool replay failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.spool_retry_seconds)
            self.wake.clear()

    async def replay(self) -> int:
        """One pass; returns how many items were replayed (stops at the first the API
        cannot take, so the order is kept)."""
        if not await self.state.put_new(LEASE, "1", LEASE_SECONDS):
            return 0
        done = 0
        try:
            while items := await self.state.spooled():
                for item_id, item in items:
                    try:
                        await self._replay(item)
                    except ApiUnavailable:
                        return done
                    except ApiRefused as exc:  # can never succeed: keep a trace, go on
                        log.error("spooled %s refused by the API: %s", item["kind"], exc)
                    await self.state.unspool(item_id)
                    done += 1
        finally:
            await self.state.delete(LEASE)
            if done:
                log.info("replayed %d spooled items", done)
        return done

    async def _replay(self, item: dict[str, Any]) -> None:
        kind = item["kind"]
        if kind == "inbound":
            message = Inbound(**item["inbound"])
            # a duplicate too: the API may have taken the message after the gateway gave up
            # waiting; the customer was told an agent follows up, so one does
            logged = await self.api.inbound(message)
            conversation_id = logged.conversation["id"]
            summary = {"note": "received while the service was down", "last_message": message.text}
            await self._hand_off(conversation_id, summary)
            told = texts.reply(
                "service_down",
                language_of(message.text, message.language),
                hotline=self.settings.hotline,
            )
            await self.api.log_outbound(conversation_id, [told], sender="system")
        elif kind == "outbound":
            replies = [Reply.from_log(reply) for reply in item["replies"]]
            await self.api.log_outbound(item["conversation_id"], replies, item["sender"])
        elif kind == "handoff":
            await self._hand_off(item["conversation_id"], item["summary"])
        else:
            log.error("unknown spooled item %r dropped", kind)

    async def _hand_off(self, conversation_id: int, summary: dict[str, Any]) -> None:
        try:
            await self.api.hand_off(conversation_id, SERVICE_DOWN, summary)
        except ApiRefused as exc:
            if exc.status != 409:  # 409: an agent holds it already, which is the point
                raise
