"""Canned replies: every agent reads them, supervisors keep them (audited, S11.2)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.actor import Actor
from api.errors import Conflict, NotFound
from api.models import CannedReply
from api.services import audit

DEFAULTS = (
    ("greeting", "您好，我是售后客服，很高兴为您服务。请问有什么可以帮您？",
     "Hello, this is after-sales service. How can I help you?"),
    ("ask_details", "为了尽快处理，请告诉我产品型号、购买日期和问题的具体情况。",
     "To help you quickly, please tell me the model, the purchase date and what happens."),
    ("visit_booked", "已为您安排师傅上门，师傅出发前会电话联系您。",
     "A technician has been booked; they will call you before they set off."),
    ("closing", "感谢您的耐心。问题已处理，稍后请您为本次服务评价。祝您生活愉快！",
     "Thank you for your patience. The issue is handled; please rate our service in a moment."),
)  # fmt: skip


def listing(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.title)))


def get(session: Session, reply_id: int) -> CannedReply:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFound(f"no canned reply {reply_id}")
    return reply


def _saved(session: Session, reply: CannedReply) -> CannedReply:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a canned reply titled {reply.title!r} exists already") from None
    return reply


def create(session: Session, actor: Actor, title: str, zh: str, en: str) -> CannedReply:
    reply = CannedReply(title=title, zh=zh, en=en, updated_by=actor.staff_id)
    session.add(reply)
    _saved(session, reply)
    audit.record(session, actor, "canned_reply_created", reply, data={"title": title})
    return reply


def update(session: Session, actor: Actor, reply_id: int, title: str, zh: str, en: str):
    reply = get(session, reply_id)
    reply.title, reply.zh, reply.en, reply.updated_by = title, zh, en, actor.staff_id
    _saved(session, reply)
    audit.record(session, actor, "canned_reply_updated", reply, data={"title": title})
    return reply


def delete(session: Session, actor: Actor, reply_id: int) -> None:
    reply = get(session, reply_id)
    audit.record(session, actor, "canned_reply_deleted", reply, data={"title": reply.title})
    session.delete(reply)


def seed_defaults(session: Session) -> None:
    """A few replies to start with, on a database that has none."""
    if session.scalar(select(CannedReply.id).limit(1)) is None:
        session.add_all(CannedReply(title=t, zh=zh, en=en) for t, zh, en in DEFAULTS)
