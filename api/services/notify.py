"""Events for the bus, published only once the transaction that caused them commits.

Services call `emit()`; nothing is published for a rolled-back transaction, so a reader
never hears of a message or a mode change that did not happen.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from api import bus
from api.models import Conversation, Message

_PENDING = "bus_events"


def emit(session: Session, event: dict[str, Any]) -> None:
    session.info.setdefault(_PENDING, []).append(event)


def message_logged(session: Session, conversation: Conversation, message: Message) -> None:
    emit(
        session,
        {
            "type": "message",
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "external_id": conversation.external_id,
            "message_id": message.id,
            "direction": message.direction,
            "sender": message.sender,
            "delivered": message.delivered_at is not None,
        },
    )


def mode_changed(session: Session, conversation: Conversation, previous_mode: str) -> None:
    emit(
        session,
        {
            "type": "conversation",
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "external_id": conversation.external_id,
            "mode": conversation.mode,
            "previous_mode": previous_mode,
            "agent_id": conversation.agent_id,
            "ticket_id": conversation.ticket_id,
        },
    )


@sa_event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    events = session.info.pop(_PENDING, [])
    target = bus.current()
    if target is not None:
        for item in events:
            target.publish(item)


@sa_event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)
