"""Tickets (enquiries, complaints, service orders) and their feedback.

SLA clocks are columns on the ticket (as Zammad does), so "what is due or breached"
is a plain query (S5.2, S9.1).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, Encrypted, UTCDateTime, utcnow
from api.models.customer import Customer


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64), index=True)

    # priority 1 (highest) … 4 from impact × urgency; safety reports are 1 (S4.6 risk)
    priority: Mapped[int]
    impact: Mapped[int]
    urgency: Mapped[int]
    safety: Mapped[bool] = mapped_column(default=False)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # the staff member a complaint is about: never its handler (S9.2, S10.2)
    about_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))

    description: Mapped[str] = mapped_column(Encrypted)
    remedy_sought: Mapped[str | None] = mapped_column(Encrypted)
    resolution: Mapped[str | None] = mapped_column(Encrypted)
    address: Mapped[str | None] = mapped_column(Encrypted)
    product_model: Mapped[str | None] = mapped_column(String(64), index=True)
    serial_number: Mapped[str | None] = mapped_column(String(64))
    order_number: Mapped[str | None] = mapped_column(String(64))
    purchase_date: Mapped[date | None]
    occurred_on: Mapped[date | None]
    preferred_time: Mapped[str | None] = mapped_column(String(128))
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    escalation_level: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # SLA (S5.2, S9.1): due times in business hours; paused while waiting on the customer
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledge_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # a retried creation with the same key returns this ticket (never a duplicate)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    request_digest: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship()
    feedback: Mapped[Feedback | None] = relationship(back_populates="ticket")


class Feedback(Base):
    """CSAT 1–5 and a comment, one per ticket (S4.6, S9.2)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Encrypted)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="feedback")


class TicketCounter(Base):
    """Per-day sequence behind references like CS-20261124-0007."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int]


class SlaPolicy(Base):
    """Targets in business minutes per ticket kind × priority (S5.2)."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("kind", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int]
    acknowledge_minutes: Mapped[int]
    first_response_minutes: Mapped[int]
    resolve_minutes: Mapped[int]


class CalendarDay(Base):
    """An exception to the weekly business calendar: a holiday, or a working weekend (调休)."""

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    working: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)
