"""The ticket workflow: one explicit state machine, enforced here and nowhere else (S8.1).

It follows the complaint-handling steps of ISO 10002 / GB/T 19012:
received → acknowledged → investigating → resolved → closed for enquiries and
complaints; service orders (repair, installation, maintenance, replacement, recall)
are scheduled and carried out instead of investigated:
received → acknowledged → scheduled → in_progress → resolved → closed.
Any open ticket can be escalated, paused while waiting on the customer, or cancelled;
a resolved or closed one can be reopened (by the customer or after a low rating).
"Closed" follows the customer's acceptance or the acceptance timeout (S6.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy.orm import Session

from api.actor import Actor
from api.db import utcnow
from api.errors import Conflict, Forbidden, Invalid
from api.models import Ticket
from api.models.enums import ActorType, TicketKind
from api.models.enums import TicketStatus as S
from api.services import audit, priority, sla
from api.settings import Settings

OPEN = frozenset({S.received, S.acknowledged, S.investigating, S.scheduled, S.in_progress})
CASE, SERVICE = "case", "service"  # enquiries/complaints vs service orders


@dataclass(frozen=True)
class Rule:
    sources: frozenset[S]
    target: S | None  # None: the status does not change


# (action, track) -> rule; track "*" applies to both. This table is the workflow.
RULES: dict[tuple[str, str], Rule] = {
    ("acknowledge", "*"): Rule(frozenset({S.received}), S.acknowledged),
    ("investigate", CASE): Rule(frozenset({S.acknowledged}), S.investigating),
    ("schedule", SERVICE): Rule(
        frozenset({S.acknowledged, S.scheduled, S.in_progress}), S.scheduled
    ),
    ("start", SERVICE): Rule(frozenset({S.scheduled}), S.in_progress),
    ("resolve", CASE): Rule(frozenset({S.investigating}), S.resolved),
    ("resolve", SERVICE): Rule(frozenset({S.in_progress}), S.resolved),
    ("close", "*"): Rule(frozenset({S.resolved}), S.closed),
    ("reopen", CASE): Rule(frozenset({S.resolved, S.closed}), S.investigating),
    ("reopen", SERVICE): Rule(frozenset({S.resolved, S.closed}), S.acknowledged),
    ("escalate", "*"): Rule(OPEN, None),
    ("pause", "*"): Rule(OPEN, None),
    ("resume", "*"): Rule(OPEN, None),
    ("cancel", "*"): Rule(OPEN, S.cancelled),
}
ACTIONS = tuple(dict.fromkeys(action for action, _ in RULES))

# what a service client (the bot, on the customer's behalf) may do
CUSTOMER_ACTIONS = frozenset({"close", "reopen", "cancel", "escalate"})

# what the customer is told comes next, per status (S6.2)
NEXT_STEP: dict[S, tuple[str, str]] = {
    S.received: (
        "我们已收到您的问题，客服将尽快确认。",
        "We have your request; an agent will acknowledge it shortly.",
    ),
    S.acknowledged: (
        "客服已确认，正在安排处理。",
        "An agent has acknowledged it and is arranging the next step.",
    ),
    S.investigating: (
        "我们正在调查处理，有结果会第一时间通知您。",
        "We are investigating and will tell you as soon as we have a result.",
    ),
    S.scheduled: (
        "已预约上门服务，请留意预约时间。",
        "A service visit is booked; please keep the appointment time free.",
    ),
    S.in_progress: ("服务人员正在处理中。", "Our technician is working on it."),
    S.resolved: (
        "已处理完毕，请确认结果是否满意。",
        "It has been resolved; please confirm whether you are satisfied.",
    ),
    S.closed: (
        "此单已关闭，如仍有问题可要求重新处理。",
        "This case is closed; you can ask us to reopen it if needed.",
    ),
    S.cancelled: ("此单已取消。", "This case was cancelled."),
}


def track(kind: str) -> str:
    return SERVICE if TicketKind(kind).is_service_order else CASE


def rule_for(ticket: Ticket, action: str) -> Rule:
    rule = RULES.get((action, track(ticket.kind))) or RULES.get((action, "*"))
    if rule is None:
        if action in ACTIONS:
            raise Conflict(
                f"'{action}' does not apply to a {ticket.kind} ticket",
                status=ticket.status,
                allowed=allowed_actions(ticket),
            )
        raise Invalid(f"unknown action '{action}'; one of: {', '.join(ACTIONS)}")
    return rule


def allowed_actions(ticket: Ticket) -> list[str]:
    """The actions valid in the ticket's current state (for UIs and error messages)."""
    return list(_allowed(track(ticket.kind), S(ticket.status), ticket.paused_at is not None))


@cache
def _allowed(track_: str, status: S, paused: bool) -> tuple[str, ...]:
    """What `allowed_actions` answers, by the only state it depends on (computed once:
    every ticket view lists them)."""
    result = []
    for action in ACTIONS:
        rule = RULES.get((action, track_)) or RULES.get((action, "*"))
        if rule is None or status not in rule.sources:
            continue
        if action in ("pause", "resume") and paused == (action == "pause"):
            continue
        result.append(action)
    return tuple(result)


def transition(
    session: Session,
    ticket: Ticket,
    action: str,
    actor: Actor,
    *,
    settings: Settings,
    note: str | None = None,
    resolution: str | None = None,
    appointment_at: datetime | None = None,
    public: bool = True,
    now: datetime | None = None,
) -> Ticket:
    """Apply one action to `ticket` or refuse it with a clear error. Does not commit."""
    now = now or utcnow()
    note = note.strip() if note else None
    rule = rule_for(ticket, action)
    if actor.type is ActorType.service and action not in CUSTOMER_ACTIONS:
        raise Forbidden(f"a service client may only {', '.join(sorted(CUSTOMER_ACTIONS))}")
    before = S(ticket.status)
    if before not in rule.sources:
        raise Conflict(
            f"cannot {action} a ticket that is {before.value}",
            status=before.value,
            allowed=allowed_actions(ticket),
        )
    if action in ("pause", "resume") and (ticket.paused_at is None) != (action == "pause"):
        raise Conflict(
            f"the ticket is {'already' if action == 'pause' else 'not'} paused",
            status=before.value,
            allowed=allowed_actions(ticket),
        )
    _apply(session, settings, ticket, action, actor, note, resolution, appointment_at, now)
    if rule.target is not None:
        ticket.status = rule.target.value
    if note and public and actor.type is ActorType.staff and ticket.first_response_at is None:
        ticket.first_response_at = now
    audit.record(
        session,
        actor,
        action,
        ticket,
        ticket=ticket,
        customer_id=ticket.customer_id,
        data={"from": before.value, "to": ticket.status, "note_public": public},
        text=note,
        public=True,
    )
    return ticket


def _apply(session, settings, ticket, action, actor, note, resolution, appointment_at, now):
    """The side effects of each action (timestamps, SLA clocks, counters)."""
    if action == "acknowledge":
        ticket.acknowledged_at = now
    elif action == "schedule" and appointment_at is not None:
        ticket.appointment_at = appointment_at
    elif action == "resolve":
        if not resolution or not resolution.strip():
            raise Invalid("resolving needs a written resolution for the customer ('resolution')")
        ticket.resolution = resolution.strip()
        ticket.resolved_at = now
        ticket.first_response_at = ticket.first_response_at or now
        if ticket.paused_at is not None:
            sla.resume(session, settings, ticket, now)
    elif action == "close":
        ticket.closed_at = now
    elif action == "reopen":
        ticket.reopen_count += 1
        ticket.resolved_at = ticket.closed_at = None
        sla.restart_resolution(session, settings, ticket, now)
    elif action == "escalate":
        ticket.escalation_level += 1
        ticket.priority = priority.raised(ticket.priority)
    elif action == "pause":
        sla.pause(ticket, now)
    elif action == "resume":
        sla.resume(session, settings, ticket, now)
    elif action == "cancel":
        if not note:
            raise Invalid("cancelling needs a reason ('note')")
        ticket.closed_at = now
