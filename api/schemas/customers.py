"""Customer profiles as staff and service clients see them (masked per role, S11.1),
lookup and verification bodies, and the results of export and erasure (S5.7)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.models.enums import Channel


class CustomerView(BaseModel):
    """One customer profile; personal fields are masked unless `masked` is false."""

    id: int
    name: str | None
    phone: str | None
    email: str | None
    address: str | None
    language: str | None
    channels: list[str] = Field(description="channels the customer has used (S5.5)")
    masked: bool = Field(description="true: the personal fields are masked for your role")
    erased: bool = Field(description="true: the customer's data was erased (S5.7)")


class TicketBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ref: str
    kind: str
    status: str
    created_at: datetime


class ConversationBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    mode: str
    created_at: datetime


class CustomerTickets(BaseModel):
    """A lookup's answer: the profile and the customer's tickets, newest first."""

    customer: CustomerView
    tickets: list[TicketBrief]


class CustomerProfile(CustomerTickets):
    """The contact history (S5.5): profile, tickets and conversations, newest first."""

    conversations: list[ConversationBrief]


class _ByPhoneOrIdentity(BaseModel):
    """Exactly one way to name the customer: a phone, or a channel identity."""

    channel: Channel | None = None
    external_id: str | None = Field(None, min_length=1, max_length=128)

    def _check_one_way(self, phone_field: str) -> None:
        by_phone = getattr(self, phone_field) is not None
        by_identity = self.channel is not None or self.external_id is not None
        if by_phone == by_identity:
            raise ValueError(f"give either {phone_field}, or channel and external_id (not both)")
        if by_identity and (self.channel is None or self.external_id is None):
            raise ValueError("channel and external_id go together")


class LookupIn(_ByPhoneOrIdentity):
    """POSTed, so that phone numbers never appear in URLs or access logs (S11.1)."""

    phone: str | None = Field(None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_way(self) -> LookupIn:
        self._check_one_way("phone")
        return self


class VerifyIn(_ByPhoneOrIdentity):
    phone_last4: str | None = Field(
        None, pattern=r"^\d{4}$", description="the last four digits of the customer's phone"
    )

    @model_validator(mode="after")
    def _one_way(self) -> VerifyIn:
        self._check_one_way("phone_last4")
        return self


class VerifyOut(BaseModel):
    verified: bool


class EraseOut(BaseModel):
    customer_id: int
    erased_at: datetime
    tickets: int
    feedback: int
    qa_notes: int = Field(description="QA findings and rectification notes on the tickets (S8.2)")
    conversations: int
    messages: int
    unrecognised: int = Field(description="messages the assistant did not understand, deleted")
    events: int
