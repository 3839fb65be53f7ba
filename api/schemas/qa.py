"""QA sampling of closed tickets, reviews and rectifications (S8.2)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.models.enums import TicketKind
from api.schemas.reports import PeriodOut

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
SEED_LIMIT = 2**31  # the seed is kept in an INTEGER column
MAX_POINTS = 2  # each criterion: 0 not met, 1 partly met, 2 met


class Criterion(StrEnum):
    """The checklist every sampled ticket is scored on."""

    first_response = "first_response"  # first response within the SLA
    resolution = "resolution"  # resolution correct and explained to the customer
    conduct = "conduct"  # courtesy and conduct
    records = "records"  # records complete


class CriterionOut(BaseModel):
    code: Criterion
    zh: str
    en: str
    max_points: int


class SampleIn(BaseModel):
    """Draw a sample of the tickets closed in a period: a share or a count of them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    first: date | None = Field(None, alias="from", description="default: 'to' − 29 days")
    last: date | None = Field(None, alias="to", description="default: today")
    kinds: list[TicketKind] = Field(default_factory=list, description="empty: every kind")
    per_kind: bool = Field(False, description="the share or count applies to each kind")
    share: float | None = Field(None, gt=0, le=1, description="default QA_SAMPLE_SHARE")
    count: int | None = Field(None, ge=1, le=1000)
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT, description="default: a random one")

    @model_validator(mode="after")
    def _one_size(self) -> Self:
        if self.share is not None and self.count is not None:
            raise ValueError("give a share or a count, not both")
        return self


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[Criterion, Annotated[int, Field(ge=0, le=MAX_POINTS)]] = Field(
        description="every criterion: 0 not met, 1 partly met, 2 met"
    )
    note: Note | None = Field(None, description="the findings; required when the review fails")
    assignee_id: int | None = Field(
        None, description="who rectifies a failure; default: the ticket's handler"
    )


class RectificationDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = Field(description="what was corrected")


class ReviewStatus(StrEnum):
    pending = "pending"
    passed = "passed"
    failed = "failed"


class SampledTicket(BaseModel):
    ref: str
    kind: str
    status: str
    closed_at: datetime | None
    assignee_id: int | None
    breached: list[str] = Field(description="SLA targets the ticket missed")


class RectificationOut(BaseModel):
    id: int
    review_id: int
    ticket_ref: str
    assignee_id: int | None
    due_at: datetime
    overdue: bool
    findings: str | None = Field(description="the reviewer's note")
    missed: list[Criterion] = Field(description="criteria scored below full points")
    created_at: datetime
    done_at: datetime | None
    done_by: int | None
    note: str | None = Field(description="what was corrected")


class ReviewOut(BaseModel):
    id: int
    sample_id: int
    ticket: SampledTicket
    agent_id: int | None = Field(description="who handled the ticket")
    status: ReviewStatus
    reviewer_id: int | None
    scores: dict[Criterion, int] | None
    score: float | None = Field(description="share of the checklist's points, 0–1")
    threshold: float | None = Field(description="the pass threshold it was held to")
    note: str | None
    reviewed_at: datetime | None
    rectification: RectificationOut | None


class SampleSummary(BaseModel):
    id: int
    period: PeriodOut
    kinds: list[str]
    per_kind: bool
    share: float | None
    count: int | None
    seed: int
    population: int = Field(description="closed tickets of the period not sampled before")
    size: int
    reviewed: int
    failed: int
    drawn_by: int | None = Field(description="null: drawn by the system (python -m api)")
    created_at: datetime


class SampleOut(SampleSummary):
    reviews: list[ReviewOut]
