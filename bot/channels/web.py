"""The web chat channel: the widget's WebSocket (`/channels/web/ws`), the script that
embeds it (`/widget.js`) and a demo page (`/`).

The protocol, JSON frames both ways:

    → {"type": "hello", "session": <token or null>, "language": "zh"|"en", "after": <id>}
    ← {"type": "welcome", "session": <token>, "history": [<message>, …]}
    → {"type": "message", "id": <client id>, "text": "…"}             (typed)
    → {"type": "message", "id": <client id>, "text": <title>, "payload": "/affirm"}  (button)
    ← {"type": "typing", "on": true|false}
    ← {"type": "ack", "id": <client id>, "message_id": <log id or null>, "kept": bool,
       "replies": <how many message frames follow: the bot's answer to it>}
    ← {"type": "message", "message": <message>}
    ← {"type": "error", "id": <client id or null>, "error": "…"}
    <message> = {"id": <log id>, "from": "customer"|"bot"|"agent"|"system",
                 "text": "…", "buttons": [{"title", "payload"}]}

The session token, issued on the first hello and kept by the widget, is the customer's
secret; the conversation is named after its SHA-256 (so the id staff see does not open
the session). A reload says `hello` with the token and the last id it has: the history
after it is sent again, including agent messages that arrived while it was closed. A
message the widget sent but saw no `ack` for is sent again with the same id: the API logs
it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse

from api.bus import Bus
from bot.api_client import ApiClient, ApiRefused, ApiUnavailable
from bot.delivery import undelivered_outbound
from bot.messages import Inbound, Reply
from bot.routing import Router

log = logging.getLogger(__name__)

WIDGET = Path(__file__).resolve().parent.parent / "widget"
SESSION = re.compile(r"^[A-Za-z0-9_-]{32}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 4096
MAX_PAYLOAD = 512
HELLO_SECONDS = 30
HISTORY = 200


def external_id_of(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()[:40]


def message_frame(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.message_id,
        "from": reply.sender,
        "text": reply.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
    }


def logged_frame(message: dict[str, Any]) -> dict[str, Any]:
    return message_frame(Reply.from_log(message))


def _decoded(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


class BadFrame(ValueError):
    pass


def parse_message(frame: dict[str, Any]) -> tuple[str, str, str | None]:
    """(client id, text, payload) of a customer's message frame, or BadFrame."""
    client_id, text, payload = frame.get("id"), frame.get("text"), frame.get("payload")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise BadFrame("a message needs an id of 8–64 letters, digits, - or _")
    if not isinstance(text, str) or not text.strip():
        raise BadFrame("a message needs a text")
    if len(text) > MAX_TEXT:
        raise BadFrame(f"a message may have at most {MAX_TEXT} characters")
    if payload is not None and (not isinstance(payload, str) or len(payload) > MAX_PAYLOAD):
        raise BadFrame("a button payload is a text of at most 512 characters")
    return client_id, text.strip(), payload


class WebChannel:
    name = "web"

    def __init__(self, router: Router, api: ApiClient) -> None:
        self.router = router
        self.api = api
        self._sockets: dict[str, set[WebSocket]] = defaultdict(set)
        self.routes = APIRouter()
        self.routes.add_api_websocket_route("/channels/web/ws", self.socket)
        self.routes.add_api_route("/", self.demo_page, include_in_schema=False)
        self.routes.add_api_route("/widget.js", self.widget_script, include_in_schema=False)

    async def demo_page(self) -> FileResponse:
        return FileResponse(WIDGET / "demo.html", media_type="text/html")

    async def widget_script(self) -> FileResponse:
        return FileResponse(WIDGET / "widget.js", media_type="text/javascript")

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                await socket.close(code=1001)

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Push to the sockets this gateway holds for the customer (none: nothing)."""
        for socket in list(self._sockets.get(external_id, ())):
            for reply in replies:
                await self._send(socket, {"type": "message", "message": message_frame(reply)})

    def holds(self, external_id: str) -> bool:
        return bool(self._sockets.get(external_id))

    async def follow(self, bus: Bus) -> None:
        """Push the messages logged for customers whose socket this gateway holds."""
        async for event in bus.listen():
            if event.get("channel") != self.name or not undelivered_outbound(event):
                continue
            if not self.holds(event["external_id"]):
                continue  # offline: the widget gets it with the history when it returns
            try:
                message = await self.api.message(event["conversation_id"], event["message_id"])
                if message is None:
                    continue
                await self.send(event["external_id"], [Reply.from_log(message)])
                await self.api.mark_delivered(event["conversation_id"], message["id"])
            except (ApiUnavailable, ApiRefused) as exc:
                log.warning("web delivery of message %s failed: %s", event["message_id"], exc)

    @staticmethod
    async def _send(socket: WebSocket, frame: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.send_json(frame)  # if gone, the history brings it back on reconnect

    async def socket(self, socket: WebSocket) -> None:
        await socket.accept()
        try:
            hello = await asyncio.wait_for(socket.receive_json(), HELLO_SECONDS)
        except (TimeoutError, WebSocketDisconnect, ValueError, KeyError):
            await socket.close(code=1008)
            return
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            await self._send(socket, {"type": "error", "id": None, "error": "say hello first"})
            await socket.close(code=1008)
            return
        session = hello.get("session")
        if not isinstance(session, str) or not SESSION.match(session):
            session = secrets.token_urlsafe(24)
        external_id = external_id_of(session)
        language = hello.get("language") if hello.get("language") in ("zh", "en") else None
        self._sockets[external_id].add(socket)
        try:
            history = await self._history(external_id, hello.get("after"))
            await socket.send_json({"type": "welcome", "session": session, "history": history})
            while True:
                frame = _decoded(await socket.receive_text())
                if not isinstance(frame, dict):
                    error = {"type": "error", "id": None, "error": "a frame is a JSON object"}
                    await self._send(socket, error)
                elif frame.get("type") == "language" and frame.get("language") in ("zh", "en"):
                    language = frame["language"]
                elif frame.get("type") == "message":
                    await self._customer_message(socket, external_id, frame, language)
                else:
                    error = {"type": "error", "id": None, "error": "unknown frame type"}
                    await self._send(socket, error)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._sockets[external_id].discard(socket)
            if not self._sockets[external_id]:
                del self._sockets[external_id]

    async def _history(self, external_id: str, after: Any) -> list[dict[str, Any]]:
        """The log after `after`; the agent messages in it count as delivered now."""
        after_id = after if isinstance(after, int) and after >= 0 else 0
        try:
            conversation = await self.api.find_conversation(self.name, external_id)
            if conversation is None:
                return []
            found = await self.api.messages(conversation["id"], after_id=after_id, limit=HISTORY)
            for message in found:
                if message["direction"] == "out" and not message.get("delivered_at"):
                    await self.api.mark_delivered(conversation["id"], message["id"])
        except (ApiUnavailable, ApiRefused) as exc:
            log.warning("no history for a web session: %s", exc)
            return []
        return [logged_frame(m) for m in found]

    async def _customer_message(
        self, socket: WebSocket, external_id: str, frame: dict[str, Any], language: str | None
    ) -> None:
        try:
            client_id, text, payload = parse_message(frame)
        except BadFrame as exc:
            await self._send(socket, {"type": "error", "id": frame.get("id"), "error": str(exc)})
            return
        await self._send(socket, {"type": "typing", "on": True})
        message = Inbound(self.name, external_id, text, client_id, payload, language)
        try:
            delivery = await self.router.receive(message)
        except ApiRefused as exc:
            await self._send(socket, {"type": "error", "id": client_id, "error": str(exc.detail)})
            return
        finally:
            await self._send(socket, {"type": "typing", "on": False})
        ack = {
            "type": "ack",
            "id": client_id,
            "message_id": delivery.message_id,
            "kept": delivery.spooled,
            "replies": len(delivery.replies),
        }
        await self._send(socket, ack)
        for reply in delivery.replies:
            await self._send(socket, {"type": "message", "message": message_frame(reply)})
