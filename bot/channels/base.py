"""What the gateway needs of a channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fastapi import APIRouter

from bot.messages import Reply


class Channel(Protocol):
    name: str  # as the API knows it: web, telegram, wecom
    routes: APIRouter  # its webhooks or socket, mounted on the gateway

    async def start(self) -> None:
        """Start background work (long polling), if any."""

    async def stop(self) -> None: ...

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies to the customer `external_id`; raises if the channel refused."""
