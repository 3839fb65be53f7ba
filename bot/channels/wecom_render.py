"""Replies as WeCom messages: 微信客服 (kf) texts and menus, and the self-built app's text,
within WeCom's limits (in UTF-8 bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from bot.messages import Reply, plain_text

TEXT_BYTES = 2048
MENU_HEAD_BYTES = 1024
MENU_ITEM_BYTES = 128
MENU_ITEMS = 10


def fit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (at a character)."""
    return text.encode()[:limit].decode(errors="ignore")


def pieces(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut at line ends where it can."""
    found, piece = [], ""
    for line in text.splitlines(keepends=True):
        if piece and len((piece + line).encode()) > limit:
            found.append(piece)
            piece = ""
        while len(line.encode()) > limit:  # a line too long on its own
            head = fit(line, limit)
            found.append(head)
            line = line[len(head) :]
        piece += line
    found.append(piece)
    return [p.strip() for p in found if p.strip()]


def menu_id(payload: str) -> str:
    return "m" + hashlib.sha256(payload.encode()).hexdigest()[:24]


def text_message(text: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": text}}


def kf_messages(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """The replies as kf messages, as few as they fit in: texts joined; a reply with
    buttons a `msgmenu` headed by the texts before it and its own."""
    messages: list[dict[str, Any]] = []
    waiting: list[str] = []
    for reply in replies:
        if text := plain_text(reply.text).strip():
            waiting.append(text)
        if not reply.buttons:
            continue
        *before, last = pieces("\n\n".join(waiting), TEXT_BYTES) or [""]
        *more, head = pieces(last, MENU_HEAD_BYTES) or [""]
        messages += [text_message(piece) for piece in before + more]
        items = [
            {
                "type": "click",
                "click": {"id": menu_id(b.payload), "content": fit(b.title, MENU_ITEM_BYTES)},
            }
            for b in reply.buttons[:MENU_ITEMS]
        ]
        messages.append({"msgtype": "msgmenu", "msgmenu": {"head_content": head, "list": items}})
        waiting = []
    return messages + [text_message(p) for p in pieces("\n\n".join(waiting), TEXT_BYTES)]


def app_text(replies: Sequence[Reply]) -> str:
    """The replies as one text for the app, the buttons as numbered lines."""
    parts, number = [], 0
    for reply in replies:
        lines = [plain_text(reply.text).strip()]
        for button in reply.buttons:
            number += 1
            lines.append(f"{number}. {button.title}")
        parts.append("\n".join(line for line in lines if line))
    return "\n\n".join(part for part in parts if part)
