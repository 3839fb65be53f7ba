"""Customer profiles: one person across web, Telegram and WeCom (S5.5).

Phones are stored encrypted and found through a keyed hash of their normalised
form (S11.1).
"""

from __future__ import annotations

import hmac
import re

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api import crypto
from api.actor import Actor
from api.db import insert_loaded, utcnow
from api.errors import Invalid, NotFound
from api.models import ChannelIdentity, Conversation, Customer, Ticket
from api.models.enums import Role
from api.schemas.customers import (
    ConversationBrief,
    CustomerProfile,
    CustomerTickets,
    TicketBrief,
)
from api.services import audit, privacy

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalise_phone(raw: str) -> str:
    """Chinese mobiles as 11 digits (+86 / 0086 dropped); others as E.164 `+…`.

    Raises Invalid for anything else.
    """
    compact = re.sub(r"[\s\-().]", "", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+86") and _CN_MOBILE.match(compact[3:]):
        return compact[3:]
    if _CN_MOBILE.match(compact) or _E164.match(compact):
        return compact
    raise Invalid(
        "phone must be a Chinese mobile number (11 digits, e.g. 13800138000) "
        "or an international number in E.164 form (e.g. +442079460958)"
    )


def phone_index(phone: str) -> str:
    return crypto.blind_index("phone:" + normalise_phone(phone))


_BY_PHONE = select(Customer).where(Customer.phone_index == bindparam("index"))


def find_by_phone(session: Session, phone: str) -> Customer | None:
    return session.scalar(_BY_PHONE, {"index": phone_index(phone)})


def find_by_identity(session: Session, channel: str, external_id: str) -> Customer | None:
    return session.scalar(
        select(Customer)
        .join(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
    )


def link_identity(
    session: Session, customer: Customer, channel: str, external_id: str, actor: Actor
) -> None:
    """Attach a channel identity to `customer` (moving it if another profile had it)."""
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if identity is None:
        session.add(ChannelIdentity(customer=customer, channel=channel, external_id=external_id))
    elif identity.customer_id == customer.id:
        return
    else:
        identity.customer = customer
    audit.record(
        session,
        actor,
        "identity_linked",
        customer,
        customer_id=customer.id,
        data={"channel": channel},
    )


def resolve_customer(
    session: Session,
    actor: Actor,
    *,
    name: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
    external_id: str | None = None,
    language: str | None = None,
    email: str | None = None,
    address: str | None = None,
) -> Customer:
    """Find or create the one profile for these details (phone first, then channel id);
    a found profile gets the details it lacks.

    A phone number is the stronger key: a channel identity seen before under another
    profile is moved to the profile that owns the phone.
    """
    customer = find_by_phone(session, phone) if phone else None
    if customer is None and channel and external_id:
        customer = find_by_identity(session, channel, external_id)
    if customer is None:  # one INSERT with every known field
        customer = insert_loaded(
            session,
            Customer,
            name=name.strip() if name else None,
            phone=normalise_phone(phone) if phone else None,
            phone_index=phone_index(phone) if phone else None,
            email=email,
            address=address,
            language=language,
            created_at=utcnow(),
        )
        set_committed_value(customer, "identities", [])  # none yet: known without a query
        audit.record(session, actor, "customer_created", customer, customer_id=customer.id)
    if name and not customer.name:
        customer.name = name.strip()
    if phone and not customer.phone:
        customer.phone = normalise_phone(phone)
        customer.phone_index = phone_index(phone)
    if email and not customer.email:
        customer.email = email
    if address and not customer.address:
        customer.address = address
    if language and customer.language != language:
        customer.language = language
    if channel and external_id:
        link_identity(session, customer, channel, external_id, actor)
    return customer


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    return customer


def _handled_by(session: Session, actor: Actor, customer_id: int) -> int | None:
    """The acting agent's id if one of this customer's tickets is assigned to them or
    they hold one of the customer's conversations: then they may see the customer's
    personal data (S11.1, need to know)."""
    staff_id = actor.staff_id
    if staff_id is None or actor.at_least(Role.supervisor):
        return None
    ticket = select(Ticket.id).where(
        Ticket.customer_id == customer_id, Ticket.assignee_id == staff_id
    )
    held = select(Conversation.id).where(
        Conversation.customer_id == customer_id, Conversation.agent_id == staff_id
    )
    if session.scalar(ticket.limit(1)) is None and session.scalar(held.limit(1)) is None:
        return None
    return staff_id


def _tickets(session: Session, customer_id: int) -> list[TicketBrief]:
    rows = session.scalars(
        select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc())
    )
    return [TicketBrief.model_validate(ticket) for ticket in rows]


def lookup(
    session: Session,
    actor: Actor,
    *,
    phone: str | None = None,
    channel: str | None = None,
    external_id: str | None = None,
) -> CustomerTickets:
    """The customer with this phone (in any common format) or channel identity, masked
    for `actor` (S11.1), and their tickets (S5.5)."""
    if phone is not None:
        customer = find_by_phone(session, phone)
    elif channel and external_id:
        customer = find_by_identity(session, channel, external_id)
    else:
        raise Invalid("give either phone, or channel and external_id")
    if customer is None:
        raise NotFound("no customer with these details")
    assignee = _handled_by(session, actor, customer.id)
    return CustomerTickets(
        customer=privacy.customer_view(customer, actor, assignee_id=assignee),
        tickets=_tickets(session, customer.id),
    )


def profile(session: Session, actor: Actor, customer_id: int) -> CustomerProfile:
    """One profile with its contact history: tickets and conversations (S5.5)."""
    customer = get_customer(session, customer_id)
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
    )
    assignee = _handled_by(session, actor, customer_id)
    return CustomerProfile(
        customer=privacy.customer_view(customer, actor, assignee_id=assignee),
        tickets=_tickets(session, customer_id),
        conversations=[ConversationBrief.model_validate(c) for c in conversations],
    )


def verify_ticket_contact(
    session: Session,
    ref: str,
    *,
    phone_last4: str | None = None,
    channel: str | None = None,
    external_id: str | None = None,
) -> bool:
    """Does the person asking about ticket `ref` own it? (before the bot shows its status)

    Either the last four digits of the customer's phone (compared in constant time) or
    the channel identity they write from. An unknown reference is simply not verified:
    the answer never says why (S11.1).
    """
    ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
    customer = ticket.customer if ticket is not None else None
    if phone_last4 is not None:
        phone = (customer.phone if customer is not None else None) or ""
        expected = phone[-4:] if len(phone) >= 4 else "-"
        return hmac.compare_digest(expected.encode(), phone_last4.encode())
    if customer is None or not (channel and external_id):
        return False
    match = session.scalar(
        select(ChannelIdentity.id).where(
            ChannelIdentity.customer_id == customer.id,
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
        )
    )
    return match is not None
