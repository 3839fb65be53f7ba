"""Messages the assistant did not understand (S12.3): logged by the action server, listed
for whoever writes the training data (docs/nlu-data.md), most frequent first."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import crypto
from api.actor import Actor
from api.models import UnrecognisedMessage
from api.schemas.unrecognised import (
    UnrecognisedGroup,
    UnrecognisedIn,
    UnrecognisedReason,
    UnrecognisedReport,
)
from api.services import conversations
from api.services.reports import Period

_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " ?!.,;:~…？！。，；：～、"


def normalise(text: str) -> str:
    """What makes two messages "the same question": full-width folded (NFKC), case folded,
    runs of spaces collapsed, punctuation at either end dropped."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return text.strip(_EDGE_PUNCTUATION) or text.strip()


def record(session: Session, actor: Actor, body: UnrecognisedIn) -> UnrecognisedMessage:
    """Log one message; the conversation is opened if the bot has not seen it yet."""
    conversation, _created = conversations.open_conversation(
        session, actor, body.channel, body.external_id, language=body.language
    )
    row = UnrecognisedMessage(
        conversation_id=conversation.id,
        text=body.text,
        text_index=crypto.blind_index(normalise(body.text)),
        language=body.language,
        reason=body.reason,
        intent=body.intent,
        confidence=body.confidence,
    )
    session.add(row)
    session.flush()
    return row


def report(
    session: Session, period: Period, *, reason: UnrecognisedReason | None, limit: int
) -> UnrecognisedReport:
    """The period's messages grouped by normalised text, the most frequent `limit` groups;
    each shows its latest message."""
    where = [
        UnrecognisedMessage.created_at >= period.start,
        UnrecognisedMessage.created_at < period.end,
    ]
    if reason is not None:
        where.append(UnrecognisedMessage.reason == reason)
    row = UnrecognisedMessage
    count = func.count(row.id).label("count")
    groups = session.execute(
        select(
            count,
            func.count(row.conversation_id.distinct()),
            func.min(row.created_at),
            func.max(row.created_at),
            func.max(row.id),
        )
        .where(*where)
        .group_by(row.text_index)
        .order_by(count.desc(), func.max(row.id).desc())
        .limit(limit)
    ).all()
    latest = {
        message.id: message
        for message in session.scalars(select(row).where(row.id.in_([g[4] for g in groups])))
    }
    return UnrecognisedReport(
        period=period.out(),
        total=session.scalar(select(func.count(row.id)).where(*where)) or 0,
        groups=[
            UnrecognisedGroup(
                text=latest[last_id].text,
                count=n,
                conversations=n_conversations,
                reason=UnrecognisedReason(latest[last_id].reason),
                language=latest[last_id].language,
                intent=latest[last_id].intent,
                confidence=latest[last_id].confidence,
                first_seen=first_seen,
                last_seen=last_seen,
            )
            for n, n_conversations, first_seen, last_seen, last_id in groups
        ],
    )
