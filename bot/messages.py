"""The gateway's normalised messages: what a channel received, what goes back to it.

Every channel turns its own format into an `Inbound`, and renders `Reply`s in its own
(a web socket frame, a Telegram inline keyboard, a WeCom menu message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Inbound:
    channel: str  # web, telegram, wecom
    external_id: str  # the customer's id on that channel
    text: str | None  # what the customer wrote, or the title of the button pressed
    channel_message_id: str  # the channel's own id: a redelivery is processed once
    payload: str | None = None  # a button's payload for Rasa ("/affirm")
    language: str | None = None  # the channel's or the page's language, if it says

    @property
    def sender_id(self) -> str:
        """The Rasa conversation: the actions read the channel identity from it."""
        return f"{self.channel}:{self.external_id}"

    @property
    def for_rasa(self) -> str:
        """A button's payload as it is; typed text never as one (Rasa reads a leading "/"
        as an intent: "/affirm" typed is the words, not the intent)."""
        if self.payload:
            return self.payload
        return (self.text or "").lstrip().lstrip("/") or "?"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str | None
    buttons: tuple[Button, ...] = ()
    message_id: int | None = None  # its id in the conversation log, once logged
    sender: str = "bot"

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Reply:
        buttons = tuple(
            Button(str(b.get("title") or b.get("payload")), str(b.get("payload") or b["title"]))
            for b in message.get("buttons") or []
            if b.get("title") or b.get("payload")
        )
        return cls(text=message.get("text"), buttons=buttons)

    @classmethod
    def from_log(cls, message: dict[str, Any]) -> Reply:
        """A message of the API's log (an agent's reply, a system notice), or what
        `for_log` made of a reply."""
        payload = message.get("payload") or {}
        buttons = tuple(Button(b["title"], b["payload"]) for b in payload.get("buttons", []))
        return cls(message.get("text"), buttons, message.get("id"), message.get("sender", "bot"))

    def for_log(self) -> dict[str, Any]:
        payload = {"buttons": [b.__dict__ for b in self.buttons]} if self.buttons else None
        return {"text": self.text, "payload": payload}

    def with_id(self, message_id: int) -> Reply:
        return Reply(self.text, self.buttons, message_id, self.sender)


@dataclass
class Delivery:
    """The replies to one inbound message, and whether the message was a redelivery."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    message_id: int | None = None  # the inbound message's id in the log
    spooled: bool = False  # kept by the gateway: the API could not take it
    conversation_id: int | None = None


def plain_text(text: str | None) -> str:
    """A reply for channels without formatting: the assistant's `**bold**` marks dropped."""
    return (text or "").replace("**", "")


def language_of(text: str | None, default: str | None = None) -> str | None:
    """zh if the text holds Chinese characters, en if only Latin letters, else `default`."""
    if text and _HAN.search(text):
        return "zh"
    if text and _LATIN.search(text):
        return "en"
    return default
