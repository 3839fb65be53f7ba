"""Messages the assistant did not understand, and their list for training (S12.3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from api.models.enums import Channel
from api.schemas.conversations import ExternalId, Language, MessageText
from api.schemas.reports import PeriodOut


class UnrecognisedReason(StrEnum):
    not_understood = "not_understood"  # below the NLU threshold (nlu_fallback)
    out_of_scope = "out_of_scope"  # understood as something the service does not do


class UnrecognisedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: ExternalId
    text: MessageText = Field(min_length=1)
    language: Language
    reason: UnrecognisedReason
    intent: str | None = Field(None, max_length=64, description="the model's best guess")
    confidence: float | None = Field(None, ge=0, le=1)


class UnrecognisedLogged(BaseModel):
    id: int
    conversation_id: int


class UnrecognisedGroup(BaseModel):
    text: str = Field(description="as the customer wrote it (the latest of the group)")
    count: int = Field(description="messages with this text, after folding case and spaces")
    conversations: int
    reason: UnrecognisedReason = Field(description="of the latest message")
    language: str
    intent: str | None = Field(description="the model's latest best guess")
    confidence: float | None
    first_seen: datetime
    last_seen: datetime


class UnrecognisedReport(BaseModel):
    period: PeriodOut
    total: int = Field(description="messages in the period (all groups)")
    groups: list[UnrecognisedGroup] = Field(description="most frequent first")
