"""Opening tickets from the dialogue (complaints, service orders, recalls, call-backs).

Each ticket is linked to the customer's conversation and carries their channel identity
(one profile across channels, S5.5) and an idempotency key for this turn, so a retry
never makes a second ticket.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.backend import backend
from actions.common import channel_identity, language, turn_key


async def open_ticket(tracker: Tracker, body: dict[str, Any], *, purpose: str) -> dict[str, Any]:
    """Create the ticket; raises `BackendUnavailable` / `BackendRefused` like the client."""
    api = backend()
    channel, external_id = channel_identity(tracker)
    conversation = await api.open_conversation(channel, external_id, language(tracker))
    body = {
        **body,
        "channel": channel,
        "external_id": external_id,
        "conversation_id": conversation["id"],
        "customer": {**body.get("customer", {}), "language": language(tracker)},
    }
    return await api.create_ticket(body, key=turn_key(tracker, purpose))
