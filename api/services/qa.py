"""Quality assurance of delivered tickets (S8.2): draw a sample of closed tickets, score
each on the checklist, and open a rectification for the handler when one fails.

- Sampling: the tickets closed in a period (whole local days, as the reports), not
  sampled before; a share or a count of them, overall or per kind, chosen by
  `random.Random(seed)` from the population in id order, so the same seed over the same
  population draws the same tickets. The seed and the population's size are kept.
- Fairness (as S9.2): nobody reviews a ticket they handled — its assignee, or anyone
  who created it, moved it through the workflow or commented on it.
- Scoring: every criterion 0–2; the score is the share of the checklist's points, and it
  passes at `QA_PASS_THRESHOLD` or above (the threshold is kept with the review).
- Rectification: a failed review opens one, assigned to the handler (or whom the
  reviewer names), due `QA_RECTIFY_HOURS` business hours later; the assignee or a
  supervisor closes it saying what was corrected. When the customer needs more
  service, the handler reopens the ticket through the workflow as usual.

Every step is an event in the hash-chained audit log, internal (not on the customer's
timeline).
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from api.actor import Actor
from api.db import utcnow
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.models import Event, QaRectification, QaReview, QaSample, Ticket
from api.models.enums import ActorType, Role, TicketStatus
from api.schemas.qa import MAX_POINTS, SEED_LIMIT, Criterion, ReviewIn, SampleIn
from api.services import audit, sla, staff, workflow
from api.services.reports import Period
from api.settings import Settings

CRITERIA: dict[Criterion, tuple[str, str]] = {
    Criterion.first_response: ("首次响应在服务时限内", "First response within the SLA"),
    Criterion.resolution: (
        "处理结果正确并已向客户解释清楚",
        "Resolution correct and explained to the customer",
    ),
    Criterion.conduct: ("服务礼貌、行为规范", "Courtesy and conduct"),
    Criterion.records: ("记录完整", "Records complete"),
}
# the events that are work on a ticket: whoever did one handled it
HANDLING = ("created", "comment", *workflow.ACTIONS)


# --- sampling ---------------------------------------------------------------------------


def _size(population: int, share: float | None, count: int | None) -> int:
    if count is not None:
        return min(count, population)
    return math.ceil(round(population * share, 6))  # 0.1 × 30 is 3, not 3.0000000000000004


def _population(session: Session, p: Period, kinds: Sequence[str]) -> list[tuple[int, str]]:
    """(id, kind) of the closed tickets of the period not sampled before, in id order."""
    stmt = select(Ticket.id, Ticket.kind).where(
        Ticket.status == TicketStatus.closed.value,
        p.contains(Ticket.closed_at),
        ~exists().where(QaReview.ticket_id == Ticket.id),
    )
    if kinds:
        stmt = stmt.where(Ticket.kind.in_(kinds))
    return [tuple(row) for row in session.execute(stmt.order_by(Ticket.id))]


def choose(
    population: list[tuple[int, str]],
    seed: int,
    *,
    share: float | None,
    count: int | None,
    per_kind: bool,
) -> list[int]:
    """The sampled ticket ids: the same arguments always choose the same tickets."""
    rng = random.Random(seed)
    strata: dict[str, list[int]] = {}
    for ticket_id, kind in population:
        strata.setdefault(kind if per_kind else "*", []).append(ticket_id)
    chosen: list[int] = []
    for key in sorted(strata):
        ids = strata[key]
        chosen += rng.sample(ids, _size(len(ids), share, count))
    return sorted(chosen)


def _handler(session: Session, ticket: Ticket) -> int | None:
    """Whose delivery it was: the assignee, else the staff member who last resolved it."""
    if ticket.assignee_id is not None:
        return ticket.assignee_id
    resolver = session.scalar(
        select(Event.actor_id)
        .where(
            Event.ticket_id == ticket.id,
            Event.action == "resolve",
            Event.actor_type == ActorType.staff.value,
        )
        .order_by(Event.seq.desc())
        .limit(1)
    )
    return int(resolver) if resolver is not None else None


def draw(session: Session, settings: Settings, actor: Actor, p: Period, body: SampleIn) -> QaSample:
    """Draw and keep a sample (the caller commits). An empty population gives an empty
    sample: the record that the period was sampled."""
    kinds = sorted({kind.value for kind in body.kinds})
    share = None if body.count is not None else body.share or settings.qa_sample_share
    seed = body.seed if body.seed is not None else secrets.randbelow(SEED_LIMIT)
    population = _population(session, p, kinds)
    chosen = choose(population, seed, share=share, count=body.count, per_kind=body.per_kind)
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(chosen)).order_by(Ticket.id)).all()
    # built before the sample joins the session: _handler's queries must not flush it
    reviews = [QaReview(ticket=ticket, agent_id=_handler(session, ticket)) for ticket in tickets]
    sample = QaSample(
        period_first=p.first,
        period_last=p.last,
        kinds=kinds,
        per_kind=body.per_kind,
        share=share,
        count=body.count,
        seed=seed,
        population=len(population),
        drawn_by=actor.staff_id,
        reviews=reviews,
    )
    session.add(sample)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("another sample took some of these tickets meanwhile; draw again") from None
    for review in sample.reviews:  # a new review has none: no lazy load after the commit
        set_committed_value(review, "rectification", None)
    audit.record(
        session,
        actor,
        "qa_sample_drawn",
        sample,
        data={
            "from": p.first.isoformat(),
            "to": p.last.isoformat(),
            "kinds": kinds,
            "per_kind": body.per_kind,
            "share": share,
            "count": body.count,
            "seed": seed,
            "population": len(population),
            "tickets": chosen,
        },
    )
    return sample


def get_sample(session: Session, sample_id: int) -> QaSample:
    sample = session.scalar(
        select(QaSample)
        .where(QaSample.id == sample_id)
        .options(
            selectinload(QaSample.reviews).selectinload(QaReview.ticket),
            selectinload(QaSample.reviews).selectinload(QaReview.rectification),
        )
    )
    if sample is None:
        raise NotFound(f"no QA sample {sample_id}")
    return sample


def samples(session: Session, *, limit: int, offset: int) -> list[QaSample]:
    """The latest samples first, with their reviews (for the counts)."""
    return list(
        session.scalars(
            select(QaSample)
            .options(selectinload(QaSample.reviews))
            .order_by(QaSample.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


# --- scoring ----------------------------------------------------------------------------


def get_review(session: Session, review_id: int, *, for_update: bool = False) -> QaReview:
    stmt = select(QaReview).where(QaReview.id == review_id)
    stmt = stmt.with_for_update() if for_update else stmt
    review = session.scalar(
        stmt.options(selectinload(QaReview.ticket), selectinload(QaReview.rectification))
    )
    if review is None:
        raise NotFound(f"no QA review {review_id}")
    return review


def handlers(session: Session, ticket: Ticket) -> set[int]:
    """Every staff member who handled the ticket (none of them may review it)."""
    acted = session.scalars(
        select(Event.actor_id).where(
            Event.ticket_id == ticket.id,
            Event.actor_type == ActorType.staff.value,
            Event.action.in_(HANDLING),
        )
    )
    found = {int(staff_id) for staff_id in acted}
    return found | ({ticket.assignee_id} if ticket.assignee_id is not None else set())


def missed(scores: dict[str, int]) -> list[Criterion]:
    """The criteria scored below full points, in checklist order."""
    return [c for c in CRITERIA if scores.get(c.value, MAX_POINTS) < MAX_POINTS]


def score(
    session: Session,
    settings: Settings,
    actor: Actor,
    review_id: int,
    body: ReviewIn,
    *,
    now: datetime | None = None,
) -> QaReview:
    """Score a sampled ticket once; a failure opens its rectification (the caller commits)."""
    now = now or utcnow()
    review = get_review(session, review_id, for_update=True)
    if review.reviewed_at is not None:
        raise Conflict(f"QA review {review_id} was already scored", passed=review.passed)
    absent = [c.value for c in CRITERIA if c not in body.scores]
    if absent:
        raise Invalid(f"score every criterion; missing: {', '.join(absent)}")
    if actor.staff_id in handlers(session, review.ticket):
        raise Forbidden("you handled this ticket; another reviewer must score it (S8.2)")
    points = {c.value: body.scores[c] for c in CRITERIA}
    share = round(sum(points.values()) / (MAX_POINTS * len(CRITERIA)), 4)
    passed = share >= settings.qa_pass_threshold
    if not passed and not body.note:
        raise Invalid("a failed review needs the findings for the rectification ('note')")
    review.scores, review.score, review.passed = points, share, passed
    review.threshold = settings.qa_pass_threshold
    review.note = body.note
    review.reviewer_id = actor.staff_id
    review.reviewed_at = now
    ticket = review.ticket
    audit.record(
        session,
        actor,
        "qa_reviewed",
        review,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={
            "sample": review.sample_id,
            "scores": points,
            "score": review.score,
            "threshold": review.threshold,
            "passed": review.passed,
            "agent": review.agent_id,
        },
        text=body.note,
    )
    if not review.passed:
        _open_rectification(session, settings, actor, review, body.assignee_id, now)
    return review


def _open_rectification(
    session: Session,
    settings: Settings,
    actor: Actor,
    review: QaReview,
    assignee_id: int | None,
    now: datetime,
) -> None:
    assignee_id = assignee_id if assignee_id is not None else review.agent_id
    if assignee_id is not None:
        staff.active(session, assignee_id)
    calendar = sla.load_calendar(session, settings)
    rectification = QaRectification(
        review=review,
        assignee_id=assignee_id,
        due_at=calendar.add_minutes(now, settings.qa_rectify_hours * 60),
        created_at=now,
    )
    session.add(rectification)
    session.flush()
    audit.record(
        session,
        actor,
        "qa_rectification_opened",
        rectification,
        ticket=review.ticket,
        customer_id=review.ticket.customer_id,
        data={
            "review": review.id,
            "assignee": assignee_id,
            "due_at": rectification.due_at.isoformat(),
            "missed": [c.value for c in missed(review.scores or {})],
        },
    )


# --- rectifications ---------------------------------------------------------------------


def rectifications(
    session: Session,
    actor: Actor,
    *,
    open_only: bool,
    assignee_id: int | None,
    limit: int,
    offset: int,
) -> list[QaRectification]:
    """Rectifications, oldest due first; an agent sees only their own."""
    if not actor.at_least(Role.supervisor):
        assignee_id = actor.staff_id
    stmt = select(QaRectification).options(
        selectinload(QaRectification.review).selectinload(QaReview.ticket)
    )
    if open_only:
        stmt = stmt.where(QaRectification.done_at.is_(None))
    if assignee_id is not None:
        stmt = stmt.where(QaRectification.assignee_id == assignee_id)
    stmt = stmt.order_by(QaRectification.due_at, QaRectification.id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def complete(
    session: Session, actor: Actor, rectification_id: int, note: str, *, now: datetime | None = None
) -> QaRectification:
    """Close a rectification with what was corrected: its assignee or a supervisor."""
    rectification = session.scalar(
        select(QaRectification)
        .where(QaRectification.id == rectification_id)
        .with_for_update()
        .options(selectinload(QaRectification.review).selectinload(QaReview.ticket))
    )
    if rectification is None:
        raise NotFound(f"no rectification {rectification_id}")
    if not actor.at_least(Role.supervisor) and rectification.assignee_id != actor.staff_id:
        raise Forbidden("only its assignee or a supervisor may close a rectification")
    if rectification.done_at is not None:
        raise Conflict(f"rectification {rectification_id} was already closed")
    rectification.done_at = now or utcnow()
    rectification.done_by = actor.staff_id
    rectification.note = note
    ticket = rectification.review.ticket
    audit.record(
        session,
        actor,
        "qa_rectification_done",
        rectification,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={"review": rectification.review_id},
        text=note,
    )
    return rectification


def overdue(rectification: QaRectification, now: datetime) -> bool:
    return rectification.done_at is None and rectification.due_at <= now
