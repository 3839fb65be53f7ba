"""The event bus between the API and the gateways (and the agent console).

The API publishes what happened after its transaction commits (`api/services/notify.py`):
a message was logged, a conversation changed mode. Readers take the events two ways:

- `listen()`: every reader sees every event from the moment it starts (the web channel
  pushing to the sockets it holds, the console's live views);
- `consume(group, handler)`: each event goes to one member of the group (delivering an
  agent's reply to Telegram or WeCom once, however many gateways run).

`MemoryBus` serves one process (the embedded default: the gateway is mounted in the
API). `RedisBus` serves several, over a Redis stream: a consumer group's unacknowledged
events are claimed by another member after `CLAIM_AFTER_MS`, so a gateway that dies
mid-delivery does not lose the event. Events carry ids and codes, no personal data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]

STREAM = "servicedesk:events"
STREAM_MAXLEN = 100_000
CLAIM_AFTER_MS = 30_000
BLOCK_MS = 5_000


class Bus(Protocol):
    def publish(self, event: Event) -> None:
        """Publish from any thread; never raises (a failure is logged)."""

    def listen(self) -> AsyncIterator[Event]: ...

    async def consume(self, group: str, handler: Handler) -> None:
        """Run forever, giving each event to `handler` in one member of `group`."""

    async def aclose(self) -> None: ...


async def _handle(handler: Handler, event: Event) -> None:
    try:
        await handler(event)
    except Exception:  # one bad event must not stop the reader
        log.exception("bus handler failed on %s", event.get("type"))


class MemoryBus:
    """One process: listeners and groups are queues on the event loop that reads them."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: set[asyncio.Queue[Event]] = set()
        self._groups: dict[str, asyncio.Queue[Event]] = {}

    def _bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _fan_out(self, event: Event) -> None:
        for queue in self._listeners:
            queue.put_nowait(event)
        for queue in self._groups.values():
            queue.put_nowait(event)

    def publish(self, event: Event) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nobody reads yet
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(event)
        else:
            loop.call_soon_threadsafe(self._fan_out, event)

    async def listen(self) -> AsyncIterator[Event]:
        self._bind()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)

    async def consume(self, group: str, handler: Handler) -> None:
        self._bind()
        queue = self._groups.setdefault(group, asyncio.Queue())
        while True:
            await _handle(handler, await queue.get())

    async def aclose(self) -> None:
        self._listeners.clear()
        self._groups.clear()


class RedisBus:
    """Several processes: one Redis stream, read whole by listeners and by consumer groups."""

    def __init__(self, url: str) -> None:
        import redis
        import redis.asyncio

        self._url = url
        self._sync = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._async = redis.asyncio.Redis.from_url(url)
        self._consumer = f"{socket.gethostname()}-{os.getpid()}"

    def publish(self, event: Event) -> None:
        try:
            self._sync.xadd(
                STREAM, {"event": json.dumps(event)}, maxlen=STREAM_MAXLEN, approximate=True
            )
        except Exception:
            log.exception("could not publish %s to Redis", event.get("type"))

    async def listen(self) -> AsyncIterator[Event]:
        last = "$"
        while True:
            found = await self._async.xread({STREAM: last}, block=BLOCK_MS, count=100)
            for _stream, entries in found or []:
                for entry_id, fields in entries:
                    last = entry_id
                    yield json.loads(fields[b"event"])

    async def consume(self, group: str, handler: Handler) -> None:
        import redis

        try:
            await self._async.xgroup_create(STREAM, group, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        while True:
            # events a dead member left unacknowledged first, then new ones
            _next, claimed, *_ = await self._async.xautoclaim(
                STREAM, group, self._consumer, min_idle_time=CLAIM_AFTER_MS, count=50
            )
            fresh = await self._async.xreadgroup(
                group, self._consumer, {STREAM: ">"}, count=50, block=BLOCK_MS
            )
            entries = list(claimed) + [e for _stream, batch in fresh or [] for e in batch]
            for entry_id, fields in entries:
                if fields:  # a claimed entry trimmed from the stream has none
                    await _handle(handler, json.loads(fields[b"event"]))
                await self._async.xack(STREAM, group, entry_id)

    async def aclose(self) -> None:
        await self._async.aclose()
        self._sync.close()


def connect(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()


_bus: Bus | None = None


def configure(bus: Bus) -> None:
    """The bus this process publishes to (set by the app factory)."""
    global _bus
    _bus = bus


def current() -> Bus | None:
    return _bus
