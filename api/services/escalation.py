"""Periodic jobs on tickets: SLA breach → escalation (S9.1), and the acceptance timeout
that closes a resolved ticket the customer did not answer (S6.4).

Both run in the background (`jobs`) and on demand (`POST /api/v1/sla/check`). Several
API processes may run them at once: each ticket is handled in its own transaction,
locked `FOR UPDATE SKIP LOCKED` on PostgreSQL (another process already holds it: skip
it) and re-checked after locking, so a breach escalates once. On SQLite the writer
session (`BEGIN IMMEDIATE`) serialises the passes. A failure on one ticket is logged
and does not stop the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from api.actor import SYSTEM
from api.db import Database, utcnow
from api.models import Ticket
from api.models.enums import TicketStatus
from api.services import audit, sla, workflow
from api.settings import Settings

log = logging.getLogger(__name__)

_OPEN = [status.value for status in TicketStatus if status.is_open]

# the escalation note appears on the customer's timeline, so in both languages
_MISSED = {
    "acknowledge": ("超过确认时限", "Not acknowledged in time"),
    "first_response": ("超过首次响应时限", "No first response in time"),
    "resolve": ("超过解决时限", "Not resolved in time"),
}


def _breach_note(target: str) -> str:
    zh, en = _MISSED[target]
    return f"{zh}，已自动升级处理 / {en}: escalated automatically"


def _auto_close_note(hours: int) -> str:
    return (
        f"客户在 {hours} 小时内未回复，已自动关闭 / "
        f"Closed automatically: no reply from the customer within {hours} hours"
    )


def _breach_candidates(now: datetime) -> ColumnElement[bool]:
    """A superset of the tickets with an overdue target (`sla.overdue_targets` decides)."""
    return and_(
        Ticket.status.in_(_OPEN),
        Ticket.paused_at.is_(None),
        or_(
            and_(
                Ticket.acknowledge_due_at <= now,
                Ticket.acknowledged_at.is_(None),
                Ticket.acknowledge_breached_at.is_(None),
            ),
            and_(
                Ticket.first_response_due_at <= now,
                Ticket.first_response_at.is_(None),
                Ticket.first_response_breached_at.is_(None),
            ),
            and_(Ticket.resolve_due_at <= now, Ticket.resolve_breached_at.is_(None)),
        ),
    )


def _each_locked(
    db: Database, where: ColumnElement[bool], handle: Callable[[Session, Ticket], list[dict]]
) -> list[dict]:
    """Run `handle` on every ticket matching `where`, one locked transaction each."""
    with db.reader() as session:
        ids = session.scalars(select(Ticket.id).where(where).order_by(Ticket.id)).all()
    done: list[dict] = []
    for ticket_id in ids:
        try:
            with db.writer() as session:
                ticket = session.scalar(
                    select(Ticket)
                    .where(Ticket.id == ticket_id, where)
                    .with_for_update(skip_locked=True)
                )
                if ticket is None:  # handled meanwhile, or locked by another process
                    continue
                results = handle(session, ticket)
                session.commit()
            done += results
        except Exception:
            log.exception("periodic job failed on ticket id %s; continuing", ticket_id)
    return done


def check_breaches(db: Database, settings: Settings, now: datetime | None = None) -> list[dict]:
    """Mark every newly missed target breached and escalate the ticket once per target."""
    now = now or utcnow()

    def handle(session: Session, ticket: Ticket) -> list[dict]:
        results = []
        for target in sla.overdue_targets(ticket, now):
            due = getattr(ticket, f"{target}_due_at")
            setattr(ticket, f"{target}_breached_at", now)
            audit.record(
                session,
                SYSTEM,
                "sla_breached",
                ticket,
                ticket=ticket,
                customer_id=ticket.customer_id,
                data={"target": target, "due_at": due.isoformat()},
            )
            workflow.transition(
                session,
                ticket,
                "escalate",
                SYSTEM,
                settings=settings,
                note=_breach_note(target),
                now=now,
            )
            results.append(
                {
                    "ref": ticket.ref,
                    "target": target,
                    "due_at": due,
                    "escalation_level": ticket.escalation_level,
                    "priority": ticket.priority,
                }
            )
        return results

    return _each_locked(db, _breach_candidates(now), handle)


def auto_close(db: Database, settings: Settings, now: datetime | None = None) -> list[dict]:
    """Close resolved tickets the customer has not answered within `AUTO_CLOSE_HOURS` (S6.4)."""
    now = now or utcnow()
    hours = settings.auto_close_hours
    where = and_(
        Ticket.status == TicketStatus.resolved.value,
        Ticket.resolved_at <= now - timedelta(hours=hours),
    )

    def handle(session: Session, ticket: Ticket) -> list[dict]:
        resolved_at = ticket.resolved_at
        workflow.transition(
            session,
            ticket,
            "close",
            SYSTEM,
            settings=settings,
            note=_auto_close_note(hours),
            now=now,
        )
        return [{"ref": ticket.ref, "resolved_at": resolved_at}]

    return _each_locked(db, where, handle)
