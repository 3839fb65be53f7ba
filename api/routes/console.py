"""The agent console: its page (`/console`, static files in api/console/) and the live
event stream it listens to (`/api/v1/console/events`, a WebSocket).

The stream carries the bus's events — a conversation changed mode, a message was
logged — with ids only; the console fetches what it shows through the API, whose role
checks and masking apply (S11.1). A browser cannot set an Authorization header on a
WebSocket, so the first frame carries the login token: {"type": "auth", "token": …}.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.staticfiles import StaticFiles

from api import bus
from api.deps import staff_from_token

CONSOLE = Path(__file__).resolve().parent.parent / "console"
AUTH_SECONDS = 10
# what a browser need not know: the customer's id on their channel
HIDDEN = ("external_id",)

router = APIRouter(prefix="/api/v1/console", tags=["console"])


def static_files() -> StaticFiles:
    return StaticFiles(directory=CONSOLE, html=True)


def for_console(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in HIDDEN}


@router.websocket("/events")
async def events(socket: WebSocket) -> None:
    await socket.accept()
    try:
        first = await asyncio.wait_for(socket.receive_json(), AUTH_SECONDS)
    except (TimeoutError, WebSocketDisconnect, ValueError):
        await socket.close(code=1008)
        return
    token = first.get("token") if isinstance(first, dict) else None
    actor = await staff_from_token(socket.app, token) if isinstance(token, str) else None
    if actor is None:
        await socket.send_json({"type": "error", "error": "not authenticated: log in again"})
        await socket.close(code=1008)
        return
    source = bus.current()
    await socket.send_json({"type": "ready", "staff_id": actor.staff_id})

    async def forward() -> None:
        async for event in source.listen():
            await socket.send_json(for_console(event))

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_text()  # the console sends nothing more; pings are fine

    tasks = [asyncio.create_task(forward()), asyncio.create_task(until_closed())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await socket.close()
