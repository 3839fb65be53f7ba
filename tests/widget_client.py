"""A customer of the web channel, as the widget speaks to the gateway's WebSocket (the
protocol is in bot/channels/web.py): for tests and benchmarks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from websockets.sync.client import ClientConnection, connect


class Widget:
    """What the widget does over the socket."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    def frame(self, timeout: float = 10) -> dict:
        return json.loads(self.socket.recv(timeout=timeout))

    def hello(self, session: str | None = None, language: str = "zh", after: int = 0) -> dict:
        hello = {"type": "hello", "session": session, "language": language, "after": after}
        self.socket.send(json.dumps(hello))
        welcome = self.frame()
        assert welcome["type"] == "welcome", welcome
        return welcome

    def say(self, text: str, message_id: str | None = None) -> tuple[dict, list[dict]]:
        """Send a message: its ack and the replies that follow it (the ack says how many)."""
        message_id = message_id or uuid.uuid4().hex
        self.socket.send(json.dumps({"type": "message", "id": message_id, "text": text}))
        while (ack := self.frame())["type"] != "ack":
            assert ack["type"] == "typing", ack
        replies = [self.frame() for _ in range(ack["replies"])]
        assert all(frame["type"] == "message" for frame in replies), replies
        return ack, [frame["message"] for frame in replies]


@contextmanager
def widget(ws_url: str) -> Iterator[Widget]:
    with connect(ws_url) as socket:
        yield Widget(socket)
