"""Rasa's buttons as Telegram inline keyboards, and a button press back to its payload.

Telegram's `callback_data` holds 1–64 bytes. A payload that fits travels as it is; a
longer one (or one starting with the key mark) travels as the mark and a digest of it,
the payload kept in the gateway's shared state, so whichever gateway receives the press
finds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage

from bot.messages import Button
from bot.state import State

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
KEY_MARK = "#"  # Rasa payloads start with "/" (an intent) or are words, never with this
CALLBACK_TTL = 90 * 24 * 3600  # a keyboard stays pressable this long after it was sent


def _state_key(data: str) -> str:
    return f"tg:cb:{data.removeprefix(KEY_MARK)}"


class Keyboards:
    def __init__(self, state: State) -> None:
        self.state = state

    async def markup(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
        """One button a row: the titles are phrases, often long ones."""
        if not buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.title, callback_data=await self.callback_data(b.payload))]
             for b in buttons]
        )  # fmt: skip

    async def callback_data(self, payload: str) -> str:
        if 0 < len(payload.encode()) <= CALLBACK_LIMIT and not payload.startswith(KEY_MARK):
            return payload
        data = KEY_MARK + hashlib.sha256(payload.encode()).hexdigest()[:32]
        await self.state.put(_state_key(data), payload, ttl=CALLBACK_TTL)  # sent again: kept on
        return data

    async def payload_of(self, data: str) -> str | None:
        """The payload a press carries; None if its key expired."""
        if data.startswith(KEY_MARK):
            return await self.state.get(_state_key(data))
        return data


def title_of(message: MaybeInaccessibleMessage | None, data: str) -> str | None:
    """The title of the button with `data` under `message` (None: no longer accessible)."""
    markup = getattr(message, "reply_markup", None)
    rows = markup.inline_keyboard if markup else ()
    return next((b.text for row in rows for b in row if b.callback_data == data), None)
