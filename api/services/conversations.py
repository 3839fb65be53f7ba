"""Conversations, their message log (S12.3) and the handoff between bot and agent.

A conversation's mode is `bot`, `waiting` (queued for an agent, with the bot's reason
and summary) or `agent` (held by one agent). Every change of mode is a compare-and-set
`UPDATE … WHERE mode = <seen> AND agent_id = <seen>`, so two agents claiming at once
cannot both win, and each change is an audit event (S11.2). Message texts are personal
data: they live only in the encrypted `messages.text` column (S11.1).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.actor import Actor
from api.db import utcnow
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.models import Conversation, Message, Staff, Ticket
from api.models.enums import ActorType, ConversationMode, MessageDirection, Role, Sender
from api.services import audit, notify
from api.services.customers import find_by_identity, resolve_customer

BOT, WAITING, AGENT = (m.value for m in ConversationMode)


def find(session: Session, channel: str, external_id: str) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id
        )
    )


def get(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    return conversation


def open_conversation(
    session: Session, actor: Actor, channel: str, external_id: str, *, language: str | None = None
) -> tuple[Conversation, bool]:
    """Get or create the conversation of (channel, external_id); returns it and `created`.

    A new conversation is linked to the one customer profile holding this channel
    identity, created if there is none (S5.5). An existing one follows its identity if
    the identity has since moved to another profile (merged by phone).
    """
    conversation = find(session, channel, external_id)
    if conversation is None:
        try:
            with session.begin_nested():
                conversation = Conversation(
                    channel=channel, external_id=external_id, mode=BOT, language=language
                )
                session.add(conversation)
                session.flush()
        except IntegrityError:  # another request created it first: use theirs
            conversation = find(session, channel, external_id)
            if conversation is None:
                raise
        else:
            customer = resolve_customer(
                session, actor, channel=channel, external_id=external_id, language=language
            )
            conversation.customer_id = customer.id
            audit.record(
                session,
                actor,
                "conversation_opened",
                conversation,
                customer_id=customer.id,
                data={"channel": channel},
            )
            return conversation, True
    customer = find_by_identity(session, channel, external_id)
    if customer is not None and customer.id != conversation.customer_id:
        audit.record(
            session,
            actor,
            "conversation_relinked",
            conversation,
            customer_id=customer.id,
            data={"from_customer": conversation.customer_id, "to_customer": customer.id},
        )
        conversation.customer_id = customer.id
    return conversation, False


def _by_channel_id(session: Session, conversation_id: int, channel_id: str | None):
    return session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.channel_message_id == channel_id
        )
    )


def log_message(
    session: Session,
    conversation: Conversation,
    *,
    direction: str,
    sender: str,
    text: str | None,
    payload: dict[str, Any] | None = None,
    channel_message_id: str | None = None,
    agent_id: int | None = None,
    delivered: bool = False,
) -> tuple[Message, bool]:
    """Append a message; returns it and `duplicate`. An outbound message is `delivered`
    when the client logging it sends it to the customer itself.

    A redelivery (the same `channel_message_id` in this conversation) is never logged
    twice: the earlier message is returned with `duplicate=True`.
    """
    if (direction == MessageDirection.inbound) != (sender == Sender.customer):
        raise Invalid("inbound messages are the customer's; outbound ones the bot's or staff's")
    if not text and not payload:
        raise Invalid("a message needs a text or a payload")

    def earlier() -> Message | None:
        return _by_channel_id(session, conversation.id, channel_message_id)

    if channel_message_id is not None and (seen := earlier()) is not None:
        return seen, True
    message = Message(
        conversation_id=conversation.id,
        direction=direction,
        sender=sender,
        agent_id=agent_id,
        text=text,
        payload=payload,
        channel_message_id=channel_message_id,
        delivered_at=utcnow() if delivered and direction == MessageDirection.outbound else None,
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # the same redelivery raced us in
        if channel_message_id is None or (seen := earlier()) is None:
            raise
        return seen, True
    notify.message_logged(session, conversation, message)
    return message, False


def receive(
    session: Session,
    actor: Actor,
    channel: str,
    external_id: str,
    *,
    language: str | None,
    text: str | None,
    payload: dict[str, Any] | None,
    channel_message_id: str | None,
) -> tuple[Conversation, Message, bool]:
    """A customer's message from a channel: the conversation (opened if new, S5.5) and the
    message logged in it (once per `channel_message_id`, S12.3); returns `duplicate` too."""
    conversation, _created = open_conversation(
        session, actor, channel, external_id, language=language
    )
    message, duplicate = log_message(
        session,
        conversation,
        direction=MessageDirection.inbound,
        sender=Sender.customer,
        text=text,
        payload=payload,
        channel_message_id=channel_message_id,
    )
    return conversation, message, duplicate


def messages(
    session: Session, conversation_id: int, *, after_id: int = 0, limit: int = 100
) -> list[Message]:
    get(session, conversation_id)
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .order_by(Message.id)
            .limit(limit)
        )
    )


def mark_delivered(session: Session, conversation_id: int, message_id: int) -> Message:
    """The customer's channel took this outbound message (the first report counts)."""
    message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id:
        raise NotFound(f"no message {message_id} in conversation {conversation_id}")
    if message.direction != MessageDirection.outbound:
        raise Invalid("only outbound messages are delivered")
    if message.delivered_at is None:
        message.delivered_at = utcnow()
    return message


def redeliver(session: Session, conversation_id: int, message_id: int) -> Message:
    """A gateway could not send this outbound message after all: it is undelivered again
    and published for the deliverers, which try again."""
    message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id:
        raise NotFound(f"no message {message_id} in conversation {conversation_id}")
    if message.direction != MessageDirection.outbound:
        raise Invalid("only outbound messages are delivered")
    message.delivered_at = None
    notify.message_logged(session, get(session, conversation_id), message)
    return message


def reply(
    session: Session,
    actor: Actor,
    conversation_id: int,
    text: str | None,
    *,
    client_id: str | None = None,
) -> tuple[Message, bool]:
    """An agent's reply, only by the agent holding the conversation; `client_id` (the
    console's id of it) makes a resend a duplicate."""
    conversation = get(session, conversation_id)
    if client_id is not None:
        seen = _by_channel_id(session, conversation.id, client_id)
        if seen is not None:
            return seen, True
    if conversation.mode != AGENT or conversation.agent_id != actor.staff_id:
        raise Conflict("you do not hold this conversation: claim it before replying")
    return log_message(
        session,
        conversation,
        direction=MessageDirection.outbound,
        sender=Sender.agent,
        text=text,
        agent_id=actor.staff_id,
        channel_message_id=client_id,
    )


def _set_mode(session: Session, conversation: Conversation, **values: Any) -> bool:
    """Compare-and-set: apply `values` only if mode and agent are still as read; a change
    is published on the bus once the transaction commits."""
    previous_mode = conversation.mode
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            Conversation.mode == conversation.mode,
            Conversation.agent_id == conversation.agent_id,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(conversation)
    if result.rowcount != 1:
        return False
    notify.mode_changed(session, conversation, previous_mode)
    return True


def _changed_meanwhile() -> Conflict:
    return Conflict("the conversation changed meanwhile: reload it and try again")


def request_handoff(
    session: Session,
    actor: Actor,
    conversation: Conversation,
    *,
    reason: str,
    summary: dict[str, Any],
    urgent: bool = False,
) -> Conversation:
    """bot → waiting (queued for an agent); while waiting, the summary is updated."""
    if conversation.mode == AGENT:
        raise Conflict("an agent already holds this conversation")
    was_waiting = conversation.mode == WAITING
    values: dict[str, Any] = {
        "handoff_reason": reason,
        "summary": json.dumps(summary, ensure_ascii=False),
        "urgent": urgent or (was_waiting and conversation.urgent),
    }
    if not was_waiting:
        values.update(mode=WAITING, waiting_since=utcnow())
    if not _set_mode(session, conversation, **values):
        raise _changed_meanwhile()
    audit.record(
        session,
        actor,
        "handoff_updated" if was_waiting else "handoff_requested",
        conversation,
        customer_id=conversation.customer_id,
        data={"reason": reason, "urgent": values["urgent"]},
    )
    return conversation


def _linked_tickets(session: Session, conversation: Conversation) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket).where(
                or_(Ticket.id == conversation.ticket_id, Ticket.conversation_id == conversation.id)
            )
        )
    )


def _check_may_handle(session: Session, staff: Staff, conversation: Conversation) -> None:
    """Fairness (S9.2, S10.2) and qualification (S5.4) for the conversation's tickets."""
    for ticket in _linked_tickets(session, conversation):
        if ticket.about_staff_id == staff.id:
            raise Forbidden(
                f"ticket {ticket.ref} is a complaint about {staff.username}, who therefore "
                "may not handle this conversation (S9.2)"
            )
        if not staff.qualified_for(ticket.kind):
            raise Forbidden(f"{staff.username} is not qualified for {ticket.kind} tickets (S5.4)")


def claim(session: Session, actor: Actor, conversation_id: int) -> Conversation:
    """waiting → agent. Of agents claiming at once exactly one wins; the others get 409."""
    conversation = get(session, conversation_id)
    staff = session.get_one(Staff, actor.staff_id)
    _check_may_handle(session, staff, conversation)
    if conversation.mode == BOT:
        raise Conflict("the conversation is not waiting for an agent")
    if conversation.mode == WAITING and _set_mode(
        session, conversation, mode=AGENT, agent_id=staff.id
    ):
        audit.record(
            session,
            actor,
            "conversation_claimed",
            conversation,
            customer_id=conversation.customer_id,
            data={"agent": staff.id},
        )
        return conversation
    if conversation.agent_id == staff.id:
        raise Conflict("you already hold this conversation")
    raise Conflict("already claimed by another agent")


def release(session: Session, actor: Actor, conversation_id: int) -> Conversation:
    """End of the handoff: back to the bot.

    agent → bot by the agent holding it, a supervisor or a service client;
    waiting → bot (the customer gave up) by a service client or a supervisor.
    """
    conversation = get(session, conversation_id)
    if conversation.mode == BOT:
        raise Conflict("the conversation is already with the bot")
    privileged = actor.type is ActorType.service or actor.at_least(Role.supervisor)
    holder = conversation.mode == AGENT and conversation.agent_id == actor.staff_id
    if not (privileged or holder):
        raise Forbidden("only the agent holding the conversation or a supervisor may release it")
    previous = {"mode": conversation.mode, "agent": conversation.agent_id}
    if not _set_mode(
        session, conversation, mode=BOT, agent_id=None, waiting_since=None, urgent=False
    ):
        raise _changed_meanwhile()
    audit.record(
        session,
        actor,
        "conversation_released",
        conversation,
        customer_id=conversation.customer_id,
        data=previous,
    )
    return conversation


def reassign(
    session: Session, actor: Actor, conversation_id: int, to_staff_id: int
) -> Conversation:
    """A supervisor hands a waiting or held conversation to a given staff member."""
    if not actor.at_least(Role.supervisor):
        raise Forbidden("only a supervisor may reassign a conversation")
    conversation = get(session, conversation_id)
    target = session.get(Staff, to_staff_id)
    if target is None or not target.active:
        raise NotFound(f"no active staff member {to_staff_id}")
    _check_may_handle(session, target, conversation)
    if conversation.mode == BOT:
        raise Conflict("the conversation is not handed off: nothing to reassign")
    if conversation.agent_id == target.id:
        raise Conflict(f"{target.username} already holds this conversation")
    previous = conversation.agent_id
    if not _set_mode(session, conversation, mode=AGENT, agent_id=target.id):
        raise _changed_meanwhile()
    audit.record(
        session,
        actor,
        "conversation_reassigned",
        conversation,
        customer_id=conversation.customer_id,
        data={"from": previous, "to": target.id},
    )
    return conversation


def link_ticket(
    session: Session, actor: Actor, conversation_id: int, ticket_ref: str
) -> Conversation:
    """Link the conversation to its ticket; refused if its holder may not handle it (S9.2)."""
    conversation = get(session, conversation_id)
    ticket = session.scalar(select(Ticket).where(Ticket.ref == ticket_ref))
    if ticket is None:
        raise NotFound(f"no ticket {ticket_ref}")
    if conversation.mode == AGENT and conversation.agent_id is not None:
        holder = session.get_one(Staff, conversation.agent_id)
        if ticket.about_staff_id == holder.id or not holder.qualified_for(ticket.kind):
            raise Conflict(
                f"{holder.username} holds this conversation and may not handle ticket "
                f"{ticket.ref} (S9.2, S5.4): reassign the conversation first"
            )
    conversation.ticket_id = ticket.id
    audit.record(
        session,
        actor,
        "conversation_ticket_linked",
        conversation,
        ticket=ticket,
        customer_id=conversation.customer_id,
    )
    return conversation


def requeue_held_by(session: Session, actor: Actor, staff_id: int) -> int:
    """Put the conversations a staff member holds back in the queue (on deactivation)."""
    held = session.scalars(
        select(Conversation).where(Conversation.mode == AGENT, Conversation.agent_id == staff_id)
    ).all()
    for conversation in held:
        if _set_mode(session, conversation, mode=WAITING, agent_id=None, waiting_since=utcnow()):
            audit.record(
                session,
                actor,
                "conversation_requeued",
                conversation,
                customer_id=conversation.customer_id,
                data={"from": staff_id},
            )
    return len(held)


def queue(session: Session) -> list[Conversation]:
    """Conversations waiting for an agent: urgent first, then the longest waiting."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.mode == WAITING)
            .order_by(Conversation.urgent.desc(), Conversation.waiting_since, Conversation.id)
        )
    )


def listing(
    session: Session, mode: str | None, limit: int = 200, *, agent_id: int | None = None
) -> list[Conversation]:
    """By mode (`waiting`: the queue's order), and held by `agent_id` if given."""
    if mode == WAITING and agent_id is None:
        return queue(session)[:limit]
    query = select(Conversation).order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    if mode is not None:
        query = query.where(Conversation.mode == mode)
    if agent_id is not None:
        query = query.where(Conversation.agent_id == agent_id)
    return list(session.scalars(query.limit(limit)))


def agents_available(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(Staff).where(Staff.active, Staff.available))
        or 0
    )


def ticket_refs(session: Session, conversations: list[Conversation]) -> dict[int, str]:
    """The refs of the tickets these conversations are linked to, by ticket id."""
    ids = {c.ticket_id for c in conversations if c.ticket_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Ticket.id, Ticket.ref).where(Ticket.id.in_(ids))).all())
