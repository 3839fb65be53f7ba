"""SLA policy, business calendar and check schemas (S5.2, S9.1)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.models.enums import TicketKind
from api.services.sla import MAX_MINUTES

Minutes = Annotated[int, Field(gt=0, le=MAX_MINUTES, description="business minutes")]


class PolicyIn(BaseModel):
    """Targets in business minutes; acknowledge ≤ first_response ≤ resolve."""

    model_config = ConfigDict(extra="forbid")

    acknowledge_minutes: Minutes
    first_response_minutes: Minutes
    resolve_minutes: Minutes


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: TicketKind
    priority: int
    acknowledge_minutes: int
    first_response_minutes: int
    resolve_minutes: int


class CalendarDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working: bool = Field(description="false: a holiday; true: a working day (e.g. 调休)")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class CalendarDayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    working: bool
    note: str | None


class CalendarOut(BaseModel):
    """The weekly rule (from configuration) and its exceptions by date."""

    timezone: str
    business_hours_start: time
    business_hours_end: time
    business_days: list[str]
    exceptions: list[CalendarDayOut]


class Breach(BaseModel):
    ref: str
    target: str = Field(description="acknowledge, first_response or resolve")
    due_at: datetime
    escalation_level: int
    priority: int


class AutoClosed(BaseModel):
    ref: str
    resolved_at: datetime


class CheckResult(BaseModel):
    checked_at: datetime
    breaches: list[Breach]
    auto_closed: list[AutoClosed]
