"""The gateway's state (SQLite file, Redis) and the event bus (in-process, Redis streams):
the same behaviour on each backend. The Redis tests use the local server (CI starts it)
in a database of their own, emptied first."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
import redis

from api.bus import STREAM, MemoryBus, RedisBus
from bot.state import RedisState, SqliteState, State

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _redis_available() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL} (required under CI)")
        pytest.skip("Redis is not reachable; set TEST_REDIS_URL")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "redis"])
async def state(request, tmp_path) -> AsyncIterator[State]:
    if request.param == "sqlite":
        store: State = SqliteState(tmp_path / "gateway.db")
    else:
        store = RedisState(request.getfixturevalue("redis_url"))
    yield store
    await store.aclose()


async def test_keys_expire(state: State):
    await state.put("tg:cb:1", "/affirm", ttl=0.3)
    await state.put("wecom:cursor", "c-1")
    assert await state.get("tg:cb:1") == "/affirm"
    await asyncio.sleep(0.4)
    assert await state.get("tg:cb:1") is None
    assert await state.get("wecom:cursor") == "c-1"
    await state.delete("wecom:cursor")
    assert await state.get("wecom:cursor") is None


async def test_put_new_is_a_lease(state: State):
    assert await state.put_new("lease", "gateway-1", ttl=0.3)
    assert not await state.put_new("lease", "gateway-2", ttl=0.3)
    await asyncio.sleep(0.4)  # the holder did not renew it
    assert await state.put_new("lease", "gateway-2", ttl=5)
    assert await state.get("lease") == "gateway-2"


async def test_spool_keeps_order_until_removed(state: State):
    for n in range(3):
        await state.spool({"kind": "inbound", "n": n})
    items = await state.spooled()
    assert [item["n"] for _id, item in items] == [0, 1, 2]
    await state.unspool(items[0][0])
    assert [item["n"] for _id, item in await state.spooled()] == [1, 2]


async def test_sqlite_spool_survives_a_restart(tmp_path):
    first = SqliteState(tmp_path / "gateway.db")
    await first.spool({"kind": "inbound", "text": "kept"})
    await first.aclose()
    second = SqliteState(tmp_path / "gateway.db")
    assert [item for _id, item in await second.spooled()] == [{"kind": "inbound", "text": "kept"}]
    await second.aclose()


async def _collect(bus, group: str, into: list, name: str) -> None:
    async def handler(event: dict) -> None:
        into.append((name, event["n"]))

    await bus.consume(group, handler)


async def _until(check, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture(params=["memory", "redis"])
async def buses(request) -> AsyncIterator[tuple]:
    """Two readers' buses (two gateways) and the publisher's (the API)."""
    if request.param == "memory":
        shared = MemoryBus()
        yield shared, shared, shared
        return
    url = request.getfixturevalue("redis_url")
    made = [RedisBus(url) for _ in range(3)]
    yield tuple(made)
    for one in made:
        await one.aclose()


async def test_listeners_see_every_event_and_a_group_member_each(buses):
    first, second, publisher = buses
    heard: list = []
    delivered: list = []

    async def listen(bus, name: str) -> None:
        async for event in bus.listen():
            heard.append((name, event["n"]))

    tasks = [
        asyncio.create_task(listen(first, "a")),
        asyncio.create_task(listen(second, "b")),
        asyncio.create_task(_collect(first, "delivery", delivered, "a")),
        asyncio.create_task(_collect(second, "delivery", delivered, "b")),
    ]
    await asyncio.sleep(0.3)  # the readers are waiting
    for n in range(20):
        await asyncio.to_thread(publisher.publish, {"type": "message", "n": n})  # from a thread
    await _until(lambda: len(heard) == 40 and len(delivered) == 20)
    await asyncio.sleep(0.3)
    for task in tasks:
        task.cancel()
    assert sorted(n for name, n in heard if name == "a") == list(range(20))
    assert sorted(n for name, n in heard if name == "b") == list(range(20))
    assert sorted(n for _name, n in delivered) == list(range(20))  # each event once


async def test_redis_group_event_of_a_dead_member_is_claimed(redis_url, monkeypatch):
    """A gateway that read an event and died before acknowledging it: another takes it."""
    import api.bus

    monkeypatch.setattr(api.bus, "CLAIM_AFTER_MS", 200)
    monkeypatch.setattr(api.bus, "BLOCK_MS", 200)
    dead, alive, publisher = RedisBus(redis_url), RedisBus(redis_url), RedisBus(redis_url)
    dead._consumer, alive._consumer = "dead", "alive"
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.xgroup_create(STREAM, "delivery", id="$", mkstream=True)
    publisher.publish({"type": "message", "n": 7})
    read = await client.xreadgroup("delivery", "dead", {STREAM: ">"}, count=1)  # never acked
    assert read
    delivered: list = []
    task = asyncio.create_task(_collect(alive, "delivery", delivered, "alive"))
    await _until(lambda: delivered == [("alive", 7)])
    task.cancel()
    pending = await client.xpending(STREAM, "delivery")
    assert pending["pending"] == 0
    for one in (dead, alive, publisher):
        await one.aclose()
    await client.aclose()
