"""Long polling of the Bot API (`getUpdates`), by one gateway at a time.

- **Stored before acknowledged**: Telegram drops an update once `getUpdates` is called
  with an offset above its id. The offset moves past an update only after the channel
  handled it (the router logged it in the API, or spooled it), so a crash means a
  redelivery — which the API recognises by the update id — never a loss. An update that
  could not be handled stops the offset there; it and the ones after come again.
- **One poller**: the gateway holding the lease in the shared state polls; it renews the
  lease on every round. The others look again every `STANDBY_SECONDS` and take over when
  it is released (a gateway stopping) or expires (a gateway that died).
- Nothing but cancellation ends `run`: Telegram or the network failing means backing
  off and trying again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import Conflict, RetryAfter, TelegramError

from bot.state import State

log = logging.getLogger(__name__)

UPDATES = ["message", "callback_query"]  # what the hotline reads
LEASE_MARGIN = 60  # seconds a lease outlives one long poll (the handling of its batch)
STANDBY_SECONDS = 3


class Backoff:
    """Waits growing from `first` to `most` seconds, until `reset`."""

    def __init__(self, first: float = 0.5, most: float = 30) -> None:
        self.first, self.most = first, most
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self, reason: str) -> None:
        log.warning("Telegram: %s; trying again in %.1f s", reason, self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)


def seconds(period: float | timedelta) -> float:
    return period.total_seconds() if isinstance(period, timedelta) else float(period)


class Poller:
    def __init__(
        self,
        bot: Bot,
        state: State,
        handle: Callable[[Update], Awaitable[None]],
        poll_timeout: int,
    ) -> None:
        self.bot = bot
        self.state = state
        self.handle = handle  # returns once the update is taken; raises if it was not
        self.poll_timeout = poll_timeout
        self.lease = f"tg:poller:{bot.token.partition(':')[0]}"  # per bot
        self.lease_seconds = poll_timeout + LEASE_MARGIN
        self.holder = secrets.token_hex(8)  # this gateway
        self.offset: int | None = None
        self._backoff = Backoff()

    async def run(self) -> None:
        ready = False  # the webhook deleted since this gateway took the lease
        while True:
            try:
                if not await self.hold_lease():
                    ready = False
                    await asyncio.sleep(STANDBY_SECONDS)
                    continue
                if not ready:
                    await self.bot.delete_webhook()  # polling and a webhook exclude each other
                    ready = True
                    self._backoff.reset()  # Telegram answers (again)
                if await self.poll_once():
                    self._backoff.reset()
                else:
                    await self._backoff.wait("an update was not taken")
            except RetryAfter as exc:
                log.warning("Telegram: flood control")
                await asyncio.sleep(seconds(exc.retry_after))
            except Conflict as exc:  # a webhook was set meanwhile, or a poller without lease
                ready = False
                await self._backoff.wait(exc.message)
            except TelegramError as exc:
                await self._backoff.wait(f"{type(exc).__name__}: {exc.message}")
            except Exception as exc:  # e.g. the state unreachable: never the end of polling
                log.exception("Telegram polling failed")
                await self._backoff.wait(type(exc).__name__)

    async def hold_lease(self) -> bool:
        """Take the lease, or renew it if this gateway holds it."""
        if await self.state.put_new(self.lease, self.holder, self.lease_seconds):
            return True
        if await self.state.get(self.lease) == self.holder:
            await self.state.put(self.lease, self.holder, self.lease_seconds)
            return True
        return False

    async def release(self) -> None:
        if await self.state.get(self.lease) == self.holder:
            await self.state.delete(self.lease)  # another gateway may poll at once

    async def poll_once(self) -> bool:
        """One long poll and its batch; False if an update of it was not taken."""
        updates = await self.bot.get_updates(
            offset=self.offset, timeout=self.poll_timeout, allowed_updates=UPDATES
        )
        if not updates:
            return True
        by_chat: dict[int | None, list[Update]] = defaultdict(list)
        for update in updates:
            by_chat[update.effective_chat.id if update.effective_chat else None].append(update)
        outcomes = await asyncio.gather(*(self._in_order(batch) for batch in by_chat.values()))
        failed = [update_id for update_id in outcomes if update_id is not None]
        # confirmed with the next call: everything before the first update not taken
        self.offset = min(failed) if failed else updates[-1].update_id + 1
        return not failed

    async def _in_order(self, updates: Sequence[Update]) -> int | None:
        """One chat's updates, in order; the id of the first not taken, if one was not."""
        for update in updates:
            try:
                await self.handle(update)
            except Exception:
                log.exception("Telegram update %s not taken; it comes again", update.update_id)
                return update.update_id
        return None
