"""HTTP routes: conversations, their message log (S12.3) and the bot ↔ agent handoff."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.orm import Session

from api.deps import AnyActor, ReadSession, ServiceOnly, StaffOnly, Supervisor, WriteSession
from api.errors import Invalid, NotFound
from api.models import Conversation
from api.models.enums import ActorType, Channel, ConversationMode, MessageDirection, Sender
from api.schemas.conversations import (
    ConversationOpen,
    ConversationOut,
    HandoffIn,
    HandoffOut,
    InboundIn,
    InboundOut,
    MessageIn,
    MessageLogged,
    MessageOut,
    OutboundIn,
    ReassignIn,
    TicketLinkIn,
)
from api.services import conversations as service

router = APIRouter(prefix="/api/v1", tags=["conversations"])


def _out(session: Session, conversation: Conversation) -> ConversationOut:
    refs = service.ticket_refs(session, [conversation])
    return ConversationOut.build(conversation, refs.get(conversation.ticket_id))


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "already open: the existing conversation"}},
)
def open_conversation(
    body: ConversationOpen, actor: ServiceOnly, session: WriteSession, response: Response
) -> ConversationOut:
    """Get or create the conversation of a channel user (service clients): 201 if new."""
    conversation, created = service.open_conversation(
        session, actor, body.channel, body.external_id, language=body.language
    )
    out = _out(session, conversation)
    session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.post(
    "/inbound",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "a redelivery: the earlier message"}},
)
def inbound(
    body: InboundIn, actor: ServiceOnly, session: WriteSession, response: Response
) -> InboundOut:
    """A customer's message from a channel (gateways): the conversation is opened if new,
    the message logged once per `channel_message_id`; the answer says where it goes next
    (`conversation.mode`)."""
    conversation, message, duplicate = service.receive(
        session,
        actor,
        body.channel,
        body.external_id,
        language=body.language,
        text=body.text,
        payload=body.payload,
        channel_message_id=body.channel_message_id,
    )
    out = InboundOut(
        conversation=_out(session, conversation), message_id=message.id, duplicate=duplicate
    )
    session.commit()
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/conversations")
def list_conversations(
    actor: StaffOnly,
    session: ReadSession,
    mode: ConversationMode | None = None,
    mine: Annotated[bool, Query(description="only those you hold")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ConversationOut]:
    """Conversations by mode (staff); `waiting` is the queue: urgent first, then oldest."""
    found = service.listing(session, mode, limit, agent_id=actor.staff_id if mine else None)
    refs = service.ticket_refs(session, found)
    return [ConversationOut.build(c, refs.get(c.ticket_id)) for c in found]


@router.get("/conversations/by-channel/{channel}/{external_id}")
def find_conversation(
    channel: Channel,
    external_id: Annotated[str, Path(min_length=1, max_length=128)],
    _actor: ServiceOnly,
    session: ReadSession,
) -> ConversationOut:
    """The conversation of a channel user (service clients), 404 if there is none."""
    conversation = service.find(session, channel, external_id)
    if conversation is None:
        raise NotFound(f"no conversation for this {channel} user")
    return _out(session, conversation)


@router.get("/conversations/{conversation_id}")
def get_conversation(
    conversation_id: int, _actor: AnyActor, session: ReadSession
) -> ConversationOut:
    return _out(session, service.get(session, conversation_id))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "a redelivery: the earlier message"}},
)
def post_message(
    conversation_id: int,
    body: MessageIn,
    actor: AnyActor,
    session: WriteSession,
    response: Response,
) -> MessageLogged:
    """Service clients log messages both ways; staff send `{"text"}` as the holding agent
    (with `channel_message_id`, the console's own id of the reply: a resend is logged once)."""
    if actor.type is ActorType.staff:
        if body.direction not in (None, MessageDirection.outbound) or body.sender not in (
            None,
            Sender.agent,
        ):
            raise Invalid('staff send agent replies only: {"text": …}')
        if body.payload is not None:
            raise Invalid("staff replies have a text only")
        message, duplicate = service.reply(
            session, actor, conversation_id, body.text, client_id=body.channel_message_id
        )
    else:
        if body.direction is None or body.sender is None:
            raise Invalid("direction and sender are required")
        if body.sender is Sender.agent:
            raise Invalid("agent replies are sent by the agent (staff login), not logged here")
        message, duplicate = service.log_message(
            session,
            service.get(session, conversation_id),
            direction=body.direction,
            sender=body.sender,
            text=body.text,
            payload=body.payload,
            channel_message_id=body.channel_message_id,
        )
    session.commit()
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return MessageLogged(id=message.id, duplicate=duplicate)


@router.post("/conversations/{conversation_id}/outbound", status_code=status.HTTP_201_CREATED)
def log_outbound(
    conversation_id: int, body: OutboundIn, _actor: ServiceOnly, session: WriteSession
) -> list[MessageLogged]:
    """What the bot sent the customer (gateways), several messages in order, in one call."""
    conversation = service.get(session, conversation_id)
    logged = [
        service.log_message(
            session,
            conversation,
            direction=MessageDirection.outbound,
            sender=body.sender,
            text=item.text,
            payload=item.payload,
            delivered=body.delivered,
        )[0]
        for item in body.messages
    ]
    session.commit()
    return [MessageLogged(id=message.id, duplicate=False) for message in logged]


@router.post("/conversations/{conversation_id}/messages/{message_id}/delivered")
def mark_delivered(
    conversation_id: int, message_id: int, _actor: ServiceOnly, session: WriteSession
) -> MessageOut:
    """A gateway reports that the customer's channel took an outbound message."""
    message = service.mark_delivered(session, conversation_id, message_id)
    out = MessageOut.model_validate(message)
    session.commit()
    return out


@router.post("/conversations/{conversation_id}/messages/{message_id}/redeliver")
def redeliver(
    conversation_id: int, message_id: int, _actor: ServiceOnly, session: WriteSession
) -> MessageOut:
    """A gateway reports that an outbound message it logged as sent did not reach the
    customer: the deliverers try again."""
    message = service.redeliver(session, conversation_id, message_id)
    out = MessageOut.model_validate(message)
    session.commit()
    return out


@router.get("/conversations/{conversation_id}/messages")
def list_messages(
    conversation_id: int,
    _actor: AnyActor,
    session: ReadSession,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    """The message log, oldest first; `after_id` to poll for new ones."""
    found = service.messages(session, conversation_id, after_id=after_id, limit=limit)
    return [MessageOut.model_validate(m) for m in found]


@router.post("/conversations/{conversation_id}/handoff")
def request_handoff(
    conversation_id: int, body: HandoffIn, actor: ServiceOnly, session: WriteSession
) -> HandoffOut:
    """Queue the conversation for an agent (service clients), with the bot's summary."""
    conversation = service.request_handoff(
        session,
        actor,
        service.get(session, conversation_id),
        reason=body.reason,
        summary=body.summary,
        urgent=body.urgent,
    )
    refs = service.ticket_refs(session, [conversation])
    out = HandoffOut.build(
        conversation,
        refs.get(conversation.ticket_id),
        agents_available=service.agents_available(session),
    )
    session.commit()
    return out


@router.post("/conversations/{conversation_id}/claim")
def claim(conversation_id: int, actor: StaffOnly, session: WriteSession) -> ConversationOut:
    """Take a waiting conversation (staff). One claimant wins; the others get 409."""
    conversation = service.claim(session, actor, conversation_id)
    out = _out(session, conversation)
    session.commit()
    return out


@router.post("/conversations/{conversation_id}/release")
def release(conversation_id: int, actor: AnyActor, session: WriteSession) -> ConversationOut:
    """Back to the bot: by the holding agent, a supervisor, or a service client."""
    conversation = service.release(session, actor, conversation_id)
    out = _out(session, conversation)
    session.commit()
    return out


@router.post("/conversations/{conversation_id}/reassign")
def reassign(
    conversation_id: int, body: ReassignIn, actor: Supervisor, session: WriteSession
) -> ConversationOut:
    conversation = service.reassign(session, actor, conversation_id, body.staff_id)
    out = _out(session, conversation)
    session.commit()
    return out


@router.post("/conversations/{conversation_id}/ticket")
def link_ticket(
    conversation_id: int, body: TicketLinkIn, actor: AnyActor, session: WriteSession
) -> ConversationOut:
    conversation = service.link_ticket(session, actor, conversation_id, body.ref)
    out = _out(session, conversation)
    session.commit()
    return out
