"""HTTP routes: QA sampling of closed tickets, reviews and rectifications (S8.2).

Supervisors and admins draw samples and score them; agents see and close the
rectifications assigned to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.db import utcnow
from api.deps import ReadSession, SettingsDep, StaffOnly, Supervisor, WriteSession
from api.models import QaRectification, QaReview, QaSample
from api.routes.tickets import breached
from api.schemas.qa import (
    MAX_POINTS,
    CriterionOut,
    RectificationDone,
    RectificationOut,
    ReviewIn,
    ReviewOut,
    ReviewStatus,
    SampledTicket,
    SampleIn,
    SampleOut,
    SampleSummary,
)
from api.services import qa, reports
from api.settings import Settings

router = APIRouter(prefix="/api/v1/qa", tags=["qa"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


def rectification_out(rectification: QaRectification, now: datetime) -> RectificationOut:
    review = rectification.review
    return RectificationOut(
        id=rectification.id,
        review_id=review.id,
        ticket_ref=review.ticket.ref,
        assignee_id=rectification.assignee_id,
        due_at=rectification.due_at,
        overdue=qa.overdue(rectification, now),
        findings=review.note,
        missed=qa.missed(review.scores or {}),
        created_at=rectification.created_at,
        done_at=rectification.done_at,
        done_by=rectification.done_by,
        note=rectification.note,
    )


def _status(review: QaReview) -> ReviewStatus:
    if review.passed is None:
        return ReviewStatus.pending
    return ReviewStatus.passed if review.passed else ReviewStatus.failed


def review_out(review: QaReview, now: datetime) -> ReviewOut:
    ticket = review.ticket
    return ReviewOut(
        id=review.id,
        sample_id=review.sample_id,
        ticket=SampledTicket(
            ref=ticket.ref,
            kind=ticket.kind,
            status=ticket.status,
            closed_at=ticket.closed_at,
            assignee_id=ticket.assignee_id,
            breached=breached(ticket),
        ),
        agent_id=review.agent_id,
        status=_status(review),
        reviewer_id=review.reviewer_id,
        scores=review.scores,
        score=review.score,
        threshold=review.threshold,
        note=review.note,
        reviewed_at=review.reviewed_at,
        rectification=rectification_out(review.rectification, now)
        if review.rectification
        else None,
    )


def _summary(sample: QaSample, settings: Settings) -> dict:
    return dict(
        id=sample.id,
        period=reports.Period(sample.period_first, sample.period_last, settings).out(),
        kinds=sample.kinds,
        per_kind=sample.per_kind,
        share=sample.share,
        count=sample.count,
        seed=sample.seed,
        population=sample.population,
        size=len(sample.reviews),
        reviewed=sum(r.reviewed_at is not None for r in sample.reviews),
        failed=sum(r.passed is False for r in sample.reviews),
        drawn_by=sample.drawn_by,
        created_at=sample.created_at,
    )


def sample_out(sample: QaSample, settings: Settings) -> SampleOut:
    now = utcnow()
    return SampleOut(
        **_summary(sample, settings), reviews=[review_out(r, now) for r in sample.reviews]
    )


@router.get("/criteria")
def criteria(_actor: StaffOnly) -> list[CriterionOut]:
    """The checklist every sampled ticket is scored on (0 not met, 1 partly, 2 met)."""
    return [
        CriterionOut(code=code, zh=zh, en=en, max_points=MAX_POINTS)
        for code, (zh, en) in qa.CRITERIA.items()
    ]


@router.post("/samples", status_code=status.HTTP_201_CREATED)
def draw_sample(
    body: SampleIn, session: WriteSession, settings: SettingsDep, actor: Supervisor
) -> SampleOut:
    """Draw a sample of the tickets closed in the period (whole local days) and not
    sampled before: `share` or `count` of them (default `QA_SAMPLE_SHARE`), per kind if
    `per_kind`. The seed is kept: the same seed over the same tickets draws the same."""
    period = reports.period(settings, body.first, body.last)
    sample = qa.draw(session, settings, actor, period, body)
    session.commit()
    return sample_out(sample, settings)


@router.get("/samples")
def list_samples(
    session: ReadSession,
    settings: SettingsDep,
    _actor: Supervisor,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[SampleSummary]:
    """The latest samples first, with how many of their tickets are scored and failed."""
    return [
        SampleSummary(**_summary(s, settings))
        for s in qa.samples(session, limit=limit, offset=offset)
    ]


@router.get("/samples/{sample_id}")
def read_sample(
    sample_id: int, session: ReadSession, settings: SettingsDep, _actor: Supervisor
) -> SampleOut:
    return sample_out(qa.get_sample(session, sample_id), settings)


@router.get("/reviews/{review_id}")
def read_review(review_id: int, session: ReadSession, _actor: Supervisor) -> ReviewOut:
    return review_out(qa.get_review(session, review_id), utcnow())


@router.post("/reviews/{review_id}/score")
def score_review(
    review_id: int,
    body: ReviewIn,
    session: WriteSession,
    settings: SettingsDep,
    actor: Supervisor,
) -> ReviewOut:
    """Score a sampled ticket on every criterion, once (again: 409). Nobody scores a
    ticket they handled (403). Below `QA_PASS_THRESHOLD` it fails, which needs a `note`
    and opens a rectification for the handler (or `assignee_id`)."""
    review = qa.score(session, settings, actor, review_id, body)
    session.commit()
    return review_out(review, utcnow())


@router.get("/rectifications")
def list_rectifications(
    session: ReadSession,
    actor: StaffOnly,
    open_: Annotated[bool, Query(alias="open", description="only those not closed")] = False,
    assignee_id: int | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[RectificationOut]:
    """Rectifications, the earliest due first. Agents see only their own."""
    now = utcnow()
    rows = qa.rectifications(
        session, actor, open_only=open_, assignee_id=assignee_id, limit=limit, offset=offset
    )
    return [rectification_out(r, now) for r in rows]


@router.post("/rectifications/{rectification_id}/done")
def close_rectification(
    rectification_id: int, body: RectificationDone, session: WriteSession, actor: StaffOnly
) -> RectificationOut:
    """Close a rectification with what was corrected: its assignee or a supervisor; once."""
    rectification = qa.complete(session, actor, rectification_id, body.note)
    session.commit()
    return rectification_out(rectification, utcnow())
