"""Ticket request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.models.enums import Channel, TicketKind, TicketStatus
from api.schemas.customers import CustomerView

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Level = Annotated[int, Field(ge=1, le=3)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(Strict):
    name: Short | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    email: Short | None = None
    address: Text | None = None
    language: Annotated[str, StringConstraints(max_length=8)] | None = None


class TicketCreate(Strict):
    kind: TicketKind
    description: Text
    customer: CustomerIn = Field(default_factory=CustomerIn)
    channel: Channel = Channel.web
    external_id: Short | None = Field(None, description="the customer's id on the channel")
    conversation_id: int | None = None
    category: Code | None = None
    impact: Level = Field(2, description="1 widespread/severe … 3 minor")
    urgency: Level = Field(2, description="1 now … 3 can wait")
    safety: bool = Field(False, description="a safety hazard: always top priority")
    about_staff_id: int | None = Field(None, description="the staff member complained about")
    product_model: Code | None = None
    serial_number: Code | None = None
    order_number: Code | None = None
    purchase_date: date | None = None
    occurred_on: date | None = None
    remedy_sought: Text | None = None
    address: Text | None = Field(None, description="service address (service orders)")
    preferred_time: Short | None = None


class TransitionIn(Strict):
    action: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    note: Text | None = None
    resolution: Text | None = None
    appointment_at: datetime | None = None
    public: bool = Field(True, description="false: the note is internal, not shown to the customer")


class AssignIn(Strict):
    staff_id: int


class CommentIn(Strict):
    text: Text
    public: bool = True


class FeedbackIn(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Text | None = None


class FeedbackOut(BaseModel):
    rating: int
    comment: str | None
    created_at: datetime


class SlaView(BaseModel):
    acknowledge_due_at: datetime | None
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None
    paused: bool
    breached: list[str] = Field(description="targets missed: acknowledge, first_response, resolve")


class NextStep(BaseModel):
    zh: str
    en: str


class TicketOut(BaseModel):
    ref: str
    kind: TicketKind
    status: TicketStatus
    priority: int
    impact: int
    urgency: int
    safety: bool
    channel: str
    category: str | None
    description: str
    remedy_sought: str | None
    resolution: str | None
    address: str | None
    product_model: str | None
    serial_number: str | None
    order_number: str | None
    purchase_date: date | None
    occurred_on: date | None
    preferred_time: str | None
    appointment_at: datetime | None
    customer: CustomerView
    assignee_id: int | None
    about_staff_id: int | None
    conversation_id: int | None
    escalation_level: int
    reopen_count: int
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    acknowledge_due_at: datetime | None
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None
    sla: SlaView
    next_step: NextStep
    allowed_actions: list[str]
    feedback: FeedbackOut | None


class TicketSummary(BaseModel):
    ref: str
    kind: TicketKind
    status: TicketStatus
    priority: int
    safety: bool
    category: str | None
    product_model: str | None
    assignee_id: int | None
    escalation_level: int
    created_at: datetime
    resolve_due_at: datetime | None
    breached: list[str]


class TicketPage(BaseModel):
    total: int
    items: list[TicketSummary]


class TimelineEntry(BaseModel):
    at: datetime
    action: str
    status: str | None
    by: str = Field(description="customer, staff, service or system")
    text: str | None


class FeedbackResult(BaseModel):
    ref: str
    status: TicketStatus
    rating: int
    reopened: bool
    escalated: bool
