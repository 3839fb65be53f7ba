"""Tickets: create, read, list, transitions, assignment, comments, feedback, timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from starlette.concurrency import run_in_threadpool

from api.actor import Actor
from api.db import Database
from api.deps import AnyActor, DatabaseDep, ReadSession, SettingsDep, StaffOnly, WriteSession
from api.models import Ticket
from api.models.enums import TicketKind, TicketStatus
from api.schemas.tickets import (
    AssignIn,
    CommentIn,
    FeedbackIn,
    FeedbackOut,
    FeedbackResult,
    NextStep,
    SlaView,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketSummary,
    TimelineEntry,
    TransitionIn,
)
from api.services import privacy, tickets, workflow
from api.settings import Settings

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="a retry with the same key returns the same ticket, never a duplicate",
    ),
]


def breached(ticket: Ticket) -> list[str]:
    marks = (
        ("acknowledge", ticket.acknowledge_breached_at),
        ("first_response", ticket.first_response_breached_at),
        ("resolve", ticket.resolve_breached_at),
    )
    return [name for name, at in marks if at is not None]


def ticket_out(ticket: Ticket, actor: Actor) -> TicketOut:
    can_see = privacy.can_see_personal_data(actor, assignee_id=ticket.assignee_id)
    zh, en = workflow.NEXT_STEP[TicketStatus(ticket.status)]
    fb = ticket.feedback
    return TicketOut(
        **{
            name: getattr(ticket, name)
            for name in TicketOut.model_fields
            if name
            not in ("customer", "sla", "next_step", "allowed_actions", "feedback", "address")
        },
        address=ticket.address
        if can_see or not ticket.address
        else privacy.mask_address(ticket.address),
        customer=privacy.customer_view(ticket.customer, actor, assignee_id=ticket.assignee_id),
        sla=SlaView(
            acknowledge_due_at=ticket.acknowledge_due_at,
            first_response_due_at=ticket.first_response_due_at,
            resolve_due_at=ticket.resolve_due_at,
            paused=ticket.paused_at is not None,
            breached=breached(ticket),
        ),
        next_step=NextStep(zh=zh, en=en),
        allowed_actions=workflow.allowed_actions(ticket),
        feedback=FeedbackOut(rating=fb.rating, comment=fb.comment, created_at=fb.created_at)
        if fb
        else None,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_ticket(
    body: TicketCreate,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: AnyActor,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TicketOut:
    """Open a ticket. Honours `Idempotency-Key`: a replay answers with the first ticket
    and the header `Idempotent-Replayed: true`."""
    ticket, replayed = await run_in_threadpool(_create, db, settings, actor, body, idempotency_key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ticket


def _create(
    db: Database, settings: Settings, actor: Actor, body: TicketCreate, key: str | None
) -> tuple[TicketOut, bool]:
    """The whole create in one worker thread (session, service, response model): one
    thread-pool hand-off per request instead of one per sync dependency, the endpoint and
    the response check; the session is closed before the response is sent."""
    with db.writer() as session:
        created = tickets.create(session, settings, actor, body, idempotency_key=key)
        return ticket_out(created.ticket, actor), created.replayed


@router.get("")
def list_tickets(
    session: ReadSession,
    actor: StaffOnly,
    status_: Annotated[list[TicketStatus] | None, Query(alias="status")] = None,
    kind: Annotated[list[TicketKind] | None, Query()] = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    assignee_id: int | None = None,
    customer_id: int | None = None,
    breached_: Annotated[bool | None, Query(alias="breached")] = None,
    safety: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    resolve_due_before: Annotated[
        datetime | None, Query(description="resolve-by at or before this time (about to breach)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TicketPage:
    total, rows = tickets.search(
        session,
        status=[s.value for s in status_] if status_ else None,
        kind=[k.value for k in kind] if kind else None,
        priority_=priority,
        assignee_id=assignee_id,
        customer_id=customer_id,
        breached=breached_,
        safety=safety,
        created_from=created_from,
        created_to=created_to,
        resolve_due_before=resolve_due_before,
        limit=limit,
        offset=offset,
    )
    return TicketPage(
        total=total,
        items=[
            TicketSummary(
                **{
                    name: getattr(t, name)
                    for name in TicketSummary.model_fields
                    if name != "breached"
                },
                breached=breached(t),
            )
            for t in rows
        ],
    )


@router.get("/{ref}")
async def read_ticket(ref: str, db: DatabaseDep, actor: AnyActor) -> TicketOut:
    return await run_in_threadpool(_read, db, ref, actor)


def _read(db: Database, ref: str, actor: Actor) -> TicketOut:
    """The whole read in one worker thread, as `_create`."""
    with db.reader() as session:
        return ticket_out(tickets.get(session, ref), actor)


@router.post("/{ref}/transitions")
def transition(
    ref: str, body: TransitionIn, session: WriteSession, settings: SettingsDep, actor: AnyActor
) -> TicketOut:
    """Apply a workflow action: acknowledge, investigate, schedule, start, resolve, close,
    reopen, escalate, pause, resume, cancel. An invalid one is refused with 409."""
    ticket = tickets.apply_transition(
        session,
        settings,
        actor,
        ref,
        action=body.action,
        note=body.note,
        resolution=body.resolution,
        appointment_at=body.appointment_at,
        public=body.public,
    )
    return ticket_out(ticket, actor)


@router.post("/{ref}/assign")
def assign(ref: str, body: AssignIn, session: WriteSession, actor: StaffOnly) -> TicketOut:
    return ticket_out(tickets.assign(session, actor, ref, body.staff_id), actor)


@router.post("/{ref}/comments", status_code=status.HTTP_201_CREATED)
def add_comment(
    ref: str, body: CommentIn, session: WriteSession, settings: SettingsDep, actor: AnyActor
) -> TicketOut:
    ticket = tickets.comment(session, settings, actor, ref, body.text, public=body.public)
    return ticket_out(ticket, actor)


@router.post("/{ref}/feedback", status_code=status.HTTP_201_CREATED)
def give_feedback(
    ref: str, body: FeedbackIn, session: WriteSession, settings: SettingsDep, actor: AnyActor
) -> FeedbackResult:
    """CSAT 1–5 once per resolved ticket; a second rating is 409."""
    ticket, reopened, escalated = tickets.rate(
        session, settings, actor, ref, body.rating, body.comment
    )
    return FeedbackResult(
        ref=ticket.ref,
        status=ticket.status,
        rating=body.rating,
        reopened=reopened,
        escalated=escalated,
    )


@router.get("/{ref}/timeline")
def timeline(ref: str, session: ReadSession, _actor: AnyActor) -> list[TimelineEntry]:
    """What the customer sees of their ticket's history (S6.3): every status change and
    public note, never internal notes."""
    return [
        TimelineEntry(
            at=ev.occurred_at,
            action=ev.action,
            status=ev.data.get("to"),
            by=ev.actor_type,
            text=ev.text if ev.data.get("note_public", True) else None,
        )
        for ev in tickets.timeline(session, ref)
    ]
