"""Confidentiality of customer data (S11.1) and the customer's rights over it (S5.7).

- Masking: staff who do not need a customer's personal data (and service clients)
  see it masked: `138****8000`, `王**`, `J*** S****`.
- Export: everything held about one customer, decrypted, as one JSON document
  (PIPL-style portability).
- Erasure: anonymisation in place. Ticket rows, statuses and ratings stay, so reports
  keep working; the texts go. Event texts are removed too, which the audit chain
  allows because it covers only their digests (see `audit.verify`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, null, or_, select, update
from sqlalchemy.orm import Session

from api.actor import Actor
from api.db import utcnow
from api.errors import Conflict, NotFound
from api.models import (
    Conversation,
    Customer,
    Event,
    Feedback,
    Message,
    QaRectification,
    QaReview,
    Ticket,
    UnrecognisedMessage,
)
from api.models.enums import ActorType, Role
from api.schemas.customers import CustomerView
from api.services import audit

ERASED = "[erased]"

# E.164 country codes by their first digits (ITU-T E.164 assignment): "1" and "7" are
# one digit, these are two, every other code is three.
_CC_ONE = {"1", "7"}
_CC_TWO = {
    *("20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45"),
    *("46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61"),
    *("62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94"),
    *("95", "98"),
}


def _keep_last(digits: str, keep: int = 4) -> str:
    if len(digits) <= keep:
        return "*" * len(digits)
    return "*" * (len(digits) - keep) + digits[-keep:]


def mask_phone(phone: str | None) -> str | None:
    """`13800138000` → `138****8000`; `+442079460958` → `+44******0958` (S11.1)."""
    if phone is None:
        return None
    compact = re.sub(r"[^\d+]", "", phone)
    if compact.startswith("+"):
        digits = compact[1:]
        if digits[:1] in _CC_ONE:
            code = digits[:1]
        elif digits[:2] in _CC_TWO:
            code = digits[:2]
        else:
            code = digits[:3]
        return "+" + code + _keep_last(digits[len(code) :])
    if len(compact) == 11:  # a Chinese mobile: carrier prefix and last four
        return compact[:3] + "****" + compact[-4:]
    return _keep_last(compact)


def mask_name(name: str | None) -> str | None:
    """The first character of each word: `王小明` → `王**`, `John Smith` → `J*** S****`."""
    if name is None:
        return None
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def mask_address(address: str | None) -> str | None:
    """The first word (or first six characters, at most half), the rest `*`:
    `北京市朝阳区建国路88号` → `北京市朝阳区******`."""
    if address is None:
        return None
    value = address.strip()
    words = value.split(maxsplit=1)
    keep = len(words[0]) if len(words) > 1 else 6
    keep = min(keep, len(value) // 2)
    return value[:keep] + "*" * (len(value) - keep)


def mask_email(email: str | None) -> str | None:
    """`zhang.san@example.com` → `z***@example.com`."""
    if email is None:
        return None
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return "***"
    return local[0] + "***@" + domain


def can_see_personal_data(actor: Actor, *, assignee_id: int | None = None) -> bool:
    """Need to know (S11.1): supervisors and admins always; an agent only for the ticket
    or conversation assigned to them; service clients and other agents never."""
    if actor.type is not ActorType.staff:
        return False
    if actor.at_least(Role.supervisor):
        return True
    return assignee_id is not None and assignee_id == actor.staff_id


def customer_view(
    customer: Customer, actor: Actor, *, assignee_id: int | None = None
) -> CustomerView:
    """The profile as `actor` may see it (masked unless `can_see_personal_data`)."""
    full = can_see_personal_data(actor, assignee_id=assignee_id)

    def shown(value: str | None, mask: Callable[[str | None], str | None]) -> str | None:
        return value if full else mask(value)

    return CustomerView(
        id=customer.id,
        name=shown(customer.name, mask_name),
        phone=shown(customer.phone, mask_phone),
        email=shown(customer.email, mask_email),
        address=shown(customer.address, mask_address),
        language=customer.language,
        channels=sorted({identity.channel for identity in customer.identities}),
        masked=not full,
        erased=customer.erased_at is not None,
    )


def _customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=lock)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    return customer


def export_customer(
    session: Session, customer_id: int, *, actor: Actor | None = None
) -> dict[str, Any]:
    """Everything held about one customer, decrypted (S5.7). With `actor`, the export
    itself is recorded in the audit trail (the caller commits)."""
    customer = _customer(session, customer_id)
    tickets = session.scalars(
        select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id)
    ).all()
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id)
    ).all()
    refs = {ticket.id: ticket.ref for ticket in tickets}
    events = session.scalars(
        select(Event)
        .where(or_(Event.customer_id == customer_id, Event.ticket_id.in_(list(refs))))
        .order_by(Event.seq)
    ).all()
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id.in_([c.id for c in conversations]))
        .order_by(Message.id)
    ).all()
    unrecognised = session.scalars(
        select(UnrecognisedMessage)
        .where(UnrecognisedMessage.conversation_id.in_([c.id for c in conversations]))
        .order_by(UnrecognisedMessage.id)
    ).all()
    if actor is not None:
        audit.record(session, actor, "customer_exported", customer, customer_id=customer_id)
    return {
        "exported_at": utcnow(),
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
            "address": customer.address,
            "language": customer.language,
            "created_at": customer.created_at,
            "erased_at": customer.erased_at,
        },
        "identities": [
            {"channel": i.channel, "external_id": i.external_id, "created_at": i.created_at}
            for i in customer.identities
        ],
        "tickets": [_ticket_export(ticket) for ticket in tickets],
        "conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "external_id": c.external_id,
                "mode": c.mode,
                "summary": c.summary,
                "created_at": c.created_at,
                "messages": [
                    {
                        "direction": m.direction,
                        "sender": m.sender,
                        "text": m.text,
                        "payload": m.payload,
                        "created_at": m.created_at,
                    }
                    for m in messages
                    if m.conversation_id == c.id
                ],
                "unrecognised": [
                    {"text": u.text, "reason": u.reason, "created_at": u.created_at}
                    for u in unrecognised
                    if u.conversation_id == c.id
                ],
            }
            for c in conversations
        ],
        "events": [
            {
                "seq": e.seq,
                "occurred_at": e.occurred_at,
                "action": e.action,
                "ticket": refs.get(e.ticket_id),
                "actor_type": e.actor_type,
                "data": e.data,
                "text": e.text,
            }
            for e in events
        ],
    }


_TICKET_FIELDS = (
    *("ref", "kind", "status", "channel", "category", "priority", "safety", "description"),
    *("remedy_sought", "resolution", "address", "product_model", "serial_number"),
    *("order_number", "purchase_date", "occurred_on", "preferred_time", "appointment_at"),
    *("created_at", "resolved_at", "closed_at"),
)


def _ticket_export(ticket: Ticket) -> dict[str, Any]:
    feedback = ticket.feedback
    return {
        **{name: getattr(ticket, name) for name in _TICKET_FIELDS},
        "feedback": None
        if feedback is None
        else {
            "rating": feedback.rating,
            "comment": feedback.comment,
            "created_at": feedback.created_at,
        },
    }


def erase_customer(session: Session, actor: Actor, customer_id: int) -> dict[str, Any]:
    """Anonymise one customer (S5.7) and commit; a second erasure is a 409.

    Kept: the rows, kinds, statuses, dates, priorities and ratings (reports, S9.3).
    Removed: the profile, channel identities, ticket and feedback texts, the QA reviewers'
    findings and rectification notes on the tickets (S8.2), addresses and
    the order / serial numbers that identify the buyer, conversation summaries and
    message texts, the messages the assistant did not understand (S12.3), and the texts of
    the events about this customer.
    """
    customer = _customer(session, customer_id, lock=True)
    if customer.erased_at is not None:
        raise Conflict(f"customer {customer_id} was already erased")

    tickets = session.scalars(select(Ticket).where(Ticket.customer_id == customer_id)).all()
    for ticket in tickets:
        ticket.description = ERASED
        ticket.remedy_sought = None if ticket.remedy_sought is None else ERASED
        ticket.resolution = None if ticket.resolution is None else ERASED
        ticket.address = ticket.order_number = ticket.serial_number = None
        ticket.preferred_time = None
    feedback = session.scalars(
        select(Feedback).where(Feedback.ticket_id.in_([t.id for t in tickets]))
    ).all()
    for item in feedback:
        item.comment = None
    reviews = select(QaReview.id).where(QaReview.ticket_id.in_([t.id for t in tickets]))
    qa_notes = sum(
        session.execute(
            update(model).where(key.in_(reviews), model.note.is_not(None)).values(note=ERASED)
        ).rowcount
        for model, key in ((QaReview, QaReview.id), (QaRectification, QaRectification.review_id))
    )
    conversations = session.scalars(
        select(Conversation).where(Conversation.customer_id == customer_id)
    ).all()
    for conversation in conversations:
        conversation.summary = None
        conversation.external_id = f"erased-{conversation.id}"
    messages = session.execute(
        update(Message)
        .where(Message.conversation_id.in_([c.id for c in conversations]))
        .values(text=None, payload=null())
    ).rowcount
    unrecognised = session.execute(
        delete(UnrecognisedMessage).where(
            UnrecognisedMessage.conversation_id.in_([c.id for c in conversations])
        )
    ).rowcount
    # the chain covers only the texts' digests: audit.verify accepts their removal here
    events = session.execute(
        update(Event).where(Event.customer_id == customer_id).values(text=None)
    ).rowcount

    customer.name = customer.phone = customer.phone_index = None
    customer.email = customer.address = None
    customer.identities.clear()
    customer.erased_at = utcnow()
    result = {
        "customer_id": customer_id,
        "erased_at": customer.erased_at,
        "tickets": len(tickets),
        "feedback": len(feedback),
        "qa_notes": qa_notes,
        "conversations": len(conversations),
        "messages": messages,
        "unrecognised": unrecognised,
        "events": events,
    }
    counts = {key: value for key, value in result.items() if isinstance(value, int)}
    audit.record(session, actor, "customer_erased", customer, customer_id=customer_id, data=counts)
    session.commit()
    return result
