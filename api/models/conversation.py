"""Conversations on a channel, their mode (bot / waiting / agent) and message log (S12.3).

Who owns the conversation is kept apart from any ticket's status (as Chatwoot does).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, Encrypted, UTCDateTime, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    mode: Mapped[str] = mapped_column(String(8), default="bot", index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", use_alter=True))
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Encrypted)  # the bot's summary (JSON text)
    urgent: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(8))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "channel_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str | None] = mapped_column(Encrypted)
    payload: Mapped[dict | None] = mapped_column(JSON)  # buttons, attachments
    # the channel's own id (Telegram update_id, WeCom msgid): a redelivery is a no-op
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # outbound: when the customer's channel took it (an agent's reply waits for a gateway)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
