"""Creating, finding and working tickets; feedback; the customer's timeline.

Status changes go through `workflow.transition` only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from api.actor import SYSTEM, Actor
from api.db import BUSY_TIMEOUT, attach_loaded, insert_loaded, unset_columns, utcnow
from api.errors import Busy, Conflict, Forbidden, Invalid, NotFound
from api.models import Conversation, Customer, Event, Feedback, Staff, Ticket
from api.models.enums import ActorType, Role, TicketStatus
from api.schemas.tickets import TicketCreate
from api.services import audit, customers, priority, references, sla, workflow
from api.services import staff as staff_service
from api.settings import Settings

LOW_RATING = 2  # a rating at or below this reopens and escalates the ticket (S9.2)


def get(session: Session, ref: str, *, for_update: bool = False) -> Ticket:
    """The ticket `ref`. A read-only lookup loads what the ticket view shows with it (the
    customer, their channels, the feedback): two queries instead of four lazy loads."""
    stmt = select(Ticket).where(Ticket.ref == ref.strip().upper())
    if for_update:
        stmt = stmt.with_for_update()
    else:
        stmt = stmt.options(
            joinedload(Ticket.customer, innerjoin=True).selectinload(Customer.identities),
            joinedload(Ticket.feedback),
        )
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound(f"no ticket with reference {ref!r}")
    return ticket


def _digest(body: TicketCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Created:
    ticket: Ticket
    replayed: bool  # an earlier request with the same Idempotency-Key made it


def create(
    session: Session,
    settings: Settings,
    actor: Actor,
    body: TicketCreate,
    *,
    idempotency_key: str | None = None,
) -> Created:
    """Create a ticket and commit. A retry with the same key returns the first ticket."""
    if body.conversation_id is not None and session.get(Conversation, body.conversation_id) is None:
        raise Invalid(f"no conversation {body.conversation_id}")
    digest = _digest(body) if idempotency_key else None
    if idempotency_key:
        earlier = _replay(session, idempotency_key, digest)
        if earlier is not None:
            return Created(earlier, True)
    try:
        ticket = _insert(session, settings, actor, body, idempotency_key, digest)
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = _replay(session, idempotency_key, digest) if idempotency_key else None
        if earlier is None:
            raise
        return Created(earlier, True)
    return Created(ticket, False)


def _replay(session: Session, key: str, digest: str | None) -> Ticket | None:
    earlier = session.scalar(select(Ticket).where(Ticket.idempotency_key == key))
    if earlier is not None and earlier.request_digest != digest:
        raise Invalid("this Idempotency-Key was already used for a different request")
    return earlier


def _insert(session, settings, actor, body: TicketCreate, key, digest) -> Ticket:
    contact = body.customer
    channel, external_id = body.channel.value, body.external_id
    if body.conversation_id is not None and external_id is None:
        # opened in a conversation (the agent console): its customer's, on its channel
        conversation = session.get_one(Conversation, body.conversation_id)
        channel, external_id = conversation.channel, conversation.external_id
    if not contact.phone and not external_id:
        raise Invalid("a ticket needs a way to reach the customer: customer.phone or external_id")
    if body.about_staff_id is not None and session.get(Staff, body.about_staff_id) is None:
        raise Invalid(f"about_staff_id {body.about_staff_id} is not a staff member")
    if body.purchase_date and body.purchase_date > settings.today():
        raise Invalid("purchase_date is in the future")
    customer = customers.resolve_customer(
        session,
        actor,
        name=contact.name,
        phone=contact.phone,
        channel=channel,
        external_id=external_id,
        language=contact.language,
        email=contact.email,
        address=contact.address,
    )
    now = utcnow()
    kind = body.kind.value
    safety = body.safety or priority.mentions_safety(body.description)
    level = priority.priority_for(body.impact, body.urgency, safety=safety)
    due = sla.due_times(session, settings, kind, level, now)
    # what the response shows, loaded now: after the commit, a lazy load would open a
    # second transaction (on SQLite another BEGIN IMMEDIATE, held until the session ends)
    customer.identities  # noqa: B018 (loads the collection)
    values = dict(
        kind=kind,
        status=TicketStatus.received.value,
        channel=channel,
        category=body.category,
        impact=body.impact,
        urgency=body.urgency,
        safety=safety,
        priority=level,
        customer_id=customer.id,
        about_staff_id=body.about_staff_id,
        conversation_id=body.conversation_id,
        description=body.description,
        remedy_sought=body.remedy_sought,
        address=body.address or contact.address,
        product_model=body.product_model,
        serial_number=body.serial_number,
        order_number=body.order_number,
        purchase_date=body.purchase_date,
        occurred_on=body.occurred_on,
        preferred_time=body.preferred_time,
        created_at=now,
        updated_at=now,
        idempotency_key=key,
        request_digest=digest,
        **due,
    )
    if session.get_bind().dialect.name == "postgresql" and body.conversation_id is None:
        ticket = _insert_numbered(session, settings, now, values)
    else:
        # last: on PostgreSQL the day's counter row stays locked until the commit
        ref = references.next_reference(session, now, settings.tz)
        ticket = insert_loaded(session, Ticket, ref=ref, **values)
    set_committed_value(ticket, "customer", customer)
    set_committed_value(ticket, "feedback", None)  # a new ticket has none
    if body.conversation_id is not None:  # the conversation's ticket now (console, feedback)
        session.execute(
            update(Conversation)
            .where(Conversation.id == body.conversation_id)
            .values(ticket_id=ticket.id)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        actor,
        "created",
        ticket,
        ticket=ticket,
        customer_id=customer.id,
        data={
            "kind": ticket.kind,
            "priority": ticket.priority,
            "safety": safety,
            "channel": ticket.channel,
            "to": ticket.status,
            "conversation": body.conversation_id,
        },
        text=body.description,
        public=True,
    )
    return ticket


# A process's creates take turns here before the numbering INSERT, and hold it until
# their transaction ends. They would queue on the day's counter row anyway; queued in
# PostgreSQL, each COMMIT wakes every waiter at once (they wait on the holder's
# transaction id) and all but one go back to waiting, which made the slowest creates
# twice as slow (docs/performance.md). Other processes still queue in PostgreSQL.
_NUMBERING = threading.Lock()
_HOLDS_NUMBERING = "holds_numbering_turn"


@sa_event.listens_for(Session, "after_transaction_end")
def _end_numbering_turn(session: Session, transaction) -> None:
    if transaction.parent is None and session.info.pop(_HOLDS_NUMBERING, False):
        _NUMBERING.release()


def _insert_numbered(session: Session, settings: Settings, now: datetime, values: dict) -> Ticket:
    """PostgreSQL: the ticket, its reference and the audit head's lock in one statement,
    the last before the commit. From it to COMMIT the day's counter row and the chain's
    head are locked and every create waits its turn, so that section is this INSERT and
    one round trip more (the events and COMMIT, pipelined by audit.py). The process's
    creates take their turn for it first (`_NUMBERING`).

    Every other row lock of the create is taken before it, in the order other
    transactions take them before the head (the pending ORM changes are flushed first);
    a ticket opened in a conversation, whose row is updated after the ticket, takes the
    ordinary path (`next_reference`, the head locked at commit)."""
    session.flush()
    if not _NUMBERING.acquire(timeout=BUSY_TIMEOUT):
        raise Busy("too many tickets are being created at once; please retry")
    session.info[_HOLDS_NUMBERING] = True  # until this transaction ends, however it ends
    row = {key: value for key, value in unset_columns(Ticket.__table__).items() if key != "ref"}
    row |= values
    ticket_id, ref, head = references.insert_numbered(session, now, settings.tz, row)
    if head is not None:
        audit.adopt_locked_head(session, head)
    return attach_loaded(session, Ticket, id=ticket_id, ref=ref, **row)


def search(
    session: Session,
    *,
    status: list[str] | None = None,
    kind: list[str] | None = None,
    priority_: int | None = None,
    assignee_id: int | None = None,
    customer_id: int | None = None,
    breached: bool | None = None,
    safety: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    resolve_due_before: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Ticket]]:
    stmt: Select = select(Ticket)
    if status:
        stmt = stmt.where(Ticket.status.in_(status))
    if kind:
        stmt = stmt.where(Ticket.kind.in_(kind))
    if priority_ is not None:
        stmt = stmt.where(Ticket.priority == priority_)
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if safety is not None:
        stmt = stmt.where(Ticket.safety.is_(safety))
    if breached is not None:
        any_breach = or_(
            Ticket.acknowledge_breached_at.is_not(None),
            Ticket.first_response_breached_at.is_not(None),
            Ticket.resolve_breached_at.is_not(None),
        )
        stmt = stmt.where(any_breach if breached else ~any_breach)
    if created_from is not None:
        stmt = stmt.where(Ticket.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Ticket.created_at < created_to)
    if resolve_due_before is not None:  # about to breach: the supervisor's watch list
        stmt = stmt.where(Ticket.resolve_due_at <= resolve_due_before)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(Ticket.priority, Ticket.created_at.desc()).limit(limit).offset(offset)
    ).all()
    return total or 0, list(rows)


def apply_transition(
    session: Session, settings: Settings, actor: Actor, ref: str, **fields
) -> Ticket:
    ticket = get(session, ref, for_update=True)
    workflow.transition(session, ticket, actor=actor, settings=settings, **fields)
    session.commit()
    return ticket


def assign(session: Session, actor: Actor, ref: str, staff_id: int) -> Ticket:
    """Give the ticket to a qualified staff member (S5.4), never to the one it is about (S9.2)."""
    ticket = get(session, ref, for_update=True)
    if not actor.at_least(Role.supervisor) and actor.staff_id != staff_id:
        raise Forbidden("agents may assign tickets only to themselves")
    staff = staff_service.active(session, staff_id)
    if staff_id == ticket.about_staff_id:
        raise Forbidden("a complaint about a staff member cannot be handled by that member (S9.2)")
    if not staff.qualified_for(ticket.kind):
        raise Forbidden(f"{staff.username} is not qualified for {ticket.kind} tickets (S5.4)")
    if not TicketStatus(ticket.status).is_open:
        raise Conflict(f"cannot assign a ticket that is {ticket.status}")
    before = ticket.assignee_id
    ticket.assignee_id = staff_id
    audit.record(
        session,
        actor,
        "assigned",
        ticket,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={"from": before, "to": staff_id},
    )
    session.commit()
    return ticket


def comment(
    session: Session, settings: Settings, actor: Actor, ref: str, text: str, *, public: bool
) -> Ticket:
    """A note on the ticket. A customer's reply (through a service client) restarts a
    paused SLA clock; a staff member's public note is the first response if none yet."""
    ticket = get(session, ref, for_update=True)
    now = utcnow()
    if actor.type is ActorType.service:
        public = True
        if ticket.paused_at is not None:
            sla.resume(session, settings, ticket, now)
    elif public and ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    audit.record(
        session,
        actor,
        "comment",
        ticket,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={"note_public": public},
        text=text,
        public=True,
    )
    session.commit()
    return ticket


def rate(
    session: Session,
    settings: Settings,
    actor: Actor,
    ref: str,
    rating: int,
    comment_text: str | None,
) -> tuple[Ticket, bool, bool]:
    """Record CSAT once per ticket (S4.6). ≤ 2 reopens and escalates (S9.2); a good
    rating of a resolved ticket is the customer's acceptance and closes it (S6.4)."""
    ticket = get(session, ref, for_update=True)
    if ticket.status not in (TicketStatus.resolved, TicketStatus.closed):
        raise Conflict(f"a ticket can be rated once it is resolved; this one is {ticket.status}")
    if session.scalar(select(Feedback.id).where(Feedback.ticket_id == ticket.id)) is not None:
        raise Conflict("this ticket has already been rated")
    feedback = Feedback(ticket=ticket, rating=rating, comment=comment_text)
    session.add(feedback)
    session.flush()
    audit.record(
        session,
        actor,
        "rated",
        ticket,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={"rating": rating},
        text=comment_text,
        public=True,
    )
    reopened = escalated = False
    if rating <= LOW_RATING:
        note = f"customer rated {rating}/5"
        workflow.transition(session, ticket, "reopen", SYSTEM, settings=settings, note=note)
        workflow.transition(session, ticket, "escalate", SYSTEM, settings=settings, note=note)
        reopened = escalated = True
    elif ticket.status == TicketStatus.resolved:
        workflow.transition(
            session, ticket, "close", actor, settings=settings, note="accepted by the customer"
        )
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent rating won
        session.rollback()
        raise Conflict("this ticket has already been rated") from exc
    return ticket, reopened, escalated


def timeline(session: Session, ref: str) -> list[Event]:
    """The customer-facing history (S6.3), built from the audit events."""
    ticket = get(session, ref)
    return list(
        session.scalars(
            select(Event)
            .where(Event.ticket_id == ticket.id, Event.public.is_(True))
            .order_by(Event.seq)
        )
    )
