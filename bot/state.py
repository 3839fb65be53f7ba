"""The gateway's own state: small keys with expiry and the spool of what the API could
not take yet (degraded mode, S5.6).

- `SqliteState` (the embedded default): one file under `VAR_DIR`, so a spooled message
  survives a crash or a restart.
- `RedisState` (`REDIS_URL`): shared by several gateways — Telegram button payloads,
  the WeCom cursor and access token, leases, and one spool that any gateway replays.

Keys are namespaced by their users (`tg:cb:…`, `wecom:cursor:…`); values are strings.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

SPOOL_STREAM = "servicedesk:gateway:spool"
KEY_PREFIX = "servicedesk:gateway:"


class State(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float | None = None) -> None: ...

    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only if it is absent (a lease or a claim); True if this call set it."""

    async def delete(self, key: str) -> None: ...

    async def spool(self, item: dict[str, Any]) -> None:
        """Keep `item` until `unspool`: durable, in arrival order."""

    async def spooled(self, limit: int = 100) -> list[tuple[str, dict[str, Any]]]: ...

    async def unspool(self, item_id: str) -> None: ...

    async def aclose(self) -> None: ...


class SqliteState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # one statement at a time from any thread or event loop (the connection's statement
        # cache is not thread-safe), and close waits for the one running
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
            "expires_at REAL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "item TEXT NOT NULL)"
        )

    async def _run(self, sql: str, *params: Any) -> list[tuple]:
        return await asyncio.to_thread(self._execute, sql, params)

    def _execute(self, sql: str, params: tuple) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    async def get(self, key: str) -> str | None:
        rows = await self._run(
            "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            key,
            time.time(),
        )
        return rows[0][0] if rows else None

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        expires = time.time() + ttl if ttl else None
        await self._run(
            "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            key,
            value,
            expires,
        )

    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        now = time.time()
        rows = await self._run(
            "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
            "WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ? RETURNING key",
            key,
            value,
            now + ttl,
            now,
        )
        return bool(rows)

    async def delete(self, key: str) -> None:
        await self._run("DELETE FROM kv WHERE key = ?", key)

    async def spool(self, item: dict[str, Any]) -> None:
        await self._run("INSERT INTO spool (item) VALUES (?)", json.dumps(item))

    async def spooled(self, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        rows = await self._run("SELECT id, item FROM spool ORDER BY id LIMIT ?", limit)
        return [(str(row_id), json.loads(item)) for row_id, item in rows]

    async def unspool(self, item_id: str) -> None:
        await self._run("DELETE FROM spool WHERE id = ?", int(item_id))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._db.close()


class RedisState:
    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url, decode_responses=True)

    async def get(self, key: str) -> str | None:
        return await self._redis.get(KEY_PREFIX + key)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._redis.set(KEY_PREFIX + key, value, px=int(ttl * 1000) if ttl else None)

    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._redis.set(KEY_PREFIX + key, value, px=int(ttl * 1000), nx=True))

    async def delete(self, key: str) -> None:
        await self._redis.delete(KEY_PREFIX + key)

    async def spool(self, item: dict[str, Any]) -> None:
        await self._redis.xadd(SPOOL_STREAM, {"item": json.dumps(item)})

    async def spooled(self, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        entries = await self._redis.xrange(SPOOL_STREAM, count=limit)
        return [(entry_id, json.loads(fields["item"])) for entry_id, fields in entries]

    async def unspool(self, item_id: str) -> None:
        await self._redis.xdel(SPOOL_STREAM, item_id)

    async def aclose(self) -> None:
        await self._redis.aclose()


def connect(redis_url: str, var_dir: Path) -> State:
    return RedisState(redis_url) if redis_url else SqliteState(var_dir / "gateway.db")
