"""Conversation, message and handoff schemas (issue #2 §5, S12.3)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.models import Conversation
from api.models.enums import Channel, ConversationMode, MessageDirection, Sender

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$", max_length=8)]
# a code such as "customer_request" or "safety": it is written to the audit data in the clear
Reason = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,64}$")]
MessageText = Annotated[str, StringConstraints(max_length=4096)]


class ConversationOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: ExternalId
    language: Language | None = None


class ConversationOut(BaseModel):
    id: int
    channel: str
    mode: ConversationMode
    customer_id: int | None
    agent_id: int | None
    ticket_ref: str | None
    handoff_reason: str | None
    summary: dict[str, Any] | None
    urgent: bool
    language: str | None
    waiting_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, conversation: Conversation, ticket_ref: str | None, **extra: Any):
        return cls(
            id=conversation.id,
            channel=conversation.channel,
            mode=ConversationMode(conversation.mode),
            customer_id=conversation.customer_id,
            agent_id=conversation.agent_id,
            ticket_ref=ticket_ref,
            handoff_reason=conversation.handoff_reason,
            summary=json.loads(conversation.summary) if conversation.summary else None,
            urgent=conversation.urgent,
            language=conversation.language,
            waiting_since=conversation.waiting_since,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            **extra,
        )


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    summary: dict[str, Any] = Field(default_factory=dict, description="The bot's summary")
    urgent: bool = False


class HandoffOut(ConversationOut):
    agents_available: int


class MessageIn(BaseModel):
    """Service clients give direction and sender; staff send `{"text"}` (an agent reply)."""

    model_config = ConfigDict(extra="forbid")

    direction: MessageDirection | None = None
    sender: Sender | None = None
    text: MessageText | None = None
    payload: dict[str, Any] | None = None
    channel_message_id: ExternalId | None = None


class MessageLogged(BaseModel):
    id: int
    duplicate: bool


class InboundIn(BaseModel):
    """A customer's message as a gateway received it from a channel."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: ExternalId
    language: Language | None = None
    text: MessageText | None = None
    payload: dict[str, Any] | None = None
    channel_message_id: ExternalId | None = Field(
        default=None, description="The channel's own id: a redelivery is logged once"
    )


class InboundOut(BaseModel):
    conversation: ConversationOut
    message_id: int
    duplicate: bool


class OutboundItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: MessageText | None = None
    payload: dict[str, Any] | None = None


class OutboundIn(BaseModel):
    """What the bot (or the system) sent the customer, in order."""

    model_config = ConfigDict(extra="forbid")

    sender: Literal[Sender.bot, Sender.system] = Sender.bot
    messages: list[OutboundItem] = Field(min_length=1, max_length=50)
    delivered: bool = Field(
        default=True,
        description="The client sends them itself (a bot's replies in the turn); false: a "
        "gateway is to deliver them, as it does an agent's reply",
    )


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: MessageDirection
    sender: Sender
    agent_id: int | None
    text: str | None
    payload: dict[str, Any] | None
    channel_message_id: str | None
    created_at: datetime
    delivered_at: datetime | None


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int


class TicketLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
