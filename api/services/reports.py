"""The periodic complaint and service report (S9.3, S4.4, S4.6, S5.2, S5.3, S8.2), with its
cost and the QA sampling of delivered tickets.

A period is a run of whole local days (`settings.tz`). The report's cohort is the
tickets *created* in the period; SLA figures count the tickets whose target fell *due*
in the period; handoff figures count the conversations active in the period.

History comes from the event log, never from mutable columns where an event says it
(as osTicket's thread events and Chatwoot's reporting events): time in each status,
"resolved at least once", "reopened" and "escalated" are read from the status events,
and an SLA breach stays a breach after a reopen cleared the ticket's breach mark.
Figures are SQL aggregates that run on SQLite and PostgreSQL alike; only the
percentiles and the local-day buckets are computed here, from one column each.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    exists,
    func,
    not_,
    or_,
    select,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.functions import FunctionElement

from api.db import utcnow
from api.errors import Invalid
from api.models import (
    Conversation,
    Event,
    Feedback,
    Message,
    QaRectification,
    QaReview,
    QaSample,
    Ticket,
)
from api.models.enums import Channel, TicketKind, TicketStatus
from api.schemas.qa import Criterion
from api.schemas.reports import (
    Bucket,
    CategoryStates,
    ComplaintReport,
    ComplaintSummary,
    CostRates,
    CostReport,
    CsatReport,
    DayCount,
    Distribution,
    EffectReport,
    HandoffReport,
    PeriodOut,
    QaAgentFigures,
    QaCriterionFigures,
    QaRectificationFigures,
    QaSummary,
    RepeatComplainant,
    RepeatComplainants,
    ResponseTimes,
    SlaFigures,
    SlaReport,
    StaffCount,
    StateTime,
    TargetVsActual,
    TimeInState,
    Volume,
)
from api.services import workflow
from api.services.sla import TARGETS
from api.settings import Settings

DEFAULT_DAYS = 30
MAX_DAYS = 366
PRIORITIES = (1, 2, 3, 4)
RATINGS = (1, 2, 3, 4, 5)
SATISFIED = 4  # ratings of 4 and 5 are "satisfied"
TOP_PRODUCTS = 5

# the events that set a ticket's status: its creation and every workflow action
STATUS_ACTIONS = ("created", *workflow.ACTIONS)
# a stay in these has no end that means anything for "where time goes"
TERMINAL = (TicketStatus.closed.value, TicketStatus.cancelled.value)
OPEN = tuple(status.value for status in TicketStatus if status.is_open)

# conversation events (api.services.conversations): entering the queue, leaving it
CONVERSATION = "conversation"  # their Event.subject_type (audit: the snake-cased model name)
WAITING_ENTRIES = ("handoff_requested", "conversation_requeued")
TAKEN = ("conversation_claimed", "conversation_reassigned")
RELEASED = "conversation_released"

# when each SLA target (api.services.sla.TARGETS) was met
DONE_AT: dict[str, InstrumentedAttribute] = {
    "acknowledge": Ticket.acknowledged_at,
    "first_response": Ticket.first_response_at,
    "resolve": Ticket.resolved_at,
}


# --- the period -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days `first` … `last` (inclusive) in `settings.tz`."""

    first: date
    last: date
    settings: Settings

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.settings.tz)

    @property
    def end(self) -> datetime:
        """The instant the day after `last` begins (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.settings.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def contains(self, column: ColumnElement) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def out(self) -> PeriodOut:
        return PeriodOut(
            first=self.first, last=self.last, days=self.days, timezone=self.settings.timezone
        )


def period(
    settings: Settings, first: date | None, last: date | None, *, today: date | None = None
) -> Period:
    """The period asked for; by default the last 30 days up to today. Refuses `to` before
    `from` and spans longer than 366 days."""
    last = last or today or settings.today()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise Invalid(f"'to' ({last}) is before 'from' ({first})")
    result = Period(first, last, settings)
    if result.days > MAX_DAYS:
        raise Invalid(f"the period spans {result.days} days; at most {MAX_DAYS} are allowed")
    return result


# --- small SQL and arithmetic helpers ---------------------------------------------------


class minutes_between(FunctionElement[float]):
    """Wall-clock minutes from the first instant to the second, in SQL."""

    type = Float()
    name = "minutes_between"
    inherit_cache = True


@compiles(minutes_between)
def _minutes_standard(element, compiler, **kw) -> str:  # PostgreSQL
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end}) - ({start})) / 60 AS DOUBLE PRECISION)"


@compiles(minutes_between, "sqlite")
def _minutes_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 1440.0)"


def _count_if(condition: ColumnElement[bool]):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (as PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Sequence[float]) -> Distribution:
    return Distribution(
        count=len(values),
        mean=_round(sum(values) / len(values)) if values else None,
        p50=_round(percentile(values, 0.5)),
        p90=_round(percentile(values, 0.9)),
    )


def _target_vs_actual(target: float, actual: float | None) -> TargetVsActual:
    return TargetVsActual(
        target=target, actual=actual, met=None if actual is None else actual >= target
    )


class _Cohort:
    """Queries over the tickets created in one period."""

    def __init__(self, session: Session, p: Period) -> None:
        self.session = session
        self.period = p
        self.where = p.contains(Ticket.created_at)

    def counts(self, column, *where: ColumnElement[bool]) -> dict:
        rows = self.session.execute(
            select(column, func.count()).where(self.where, *where).group_by(column)
        )
        return dict(rows.all())

    def keyed(self, column, keys: Iterable, *where: ColumnElement[bool]) -> dict[str, int]:
        """Counts for every key (0 when none)."""
        found = self.counts(column, *where)
        return {str(key): found.get(key, 0) for key in keys}

    def buckets(self, column, *where: ColumnElement[bool]) -> list[Bucket]:
        """Counts by an open vocabulary (category, model), most frequent first."""
        rows = sorted(self.counts(column, *where).items(), key=lambda kv: (-kv[1], *_last(kv[0])))
        return [Bucket(key=key, count=count) for key, count in rows]

    def count(self, *where: ColumnElement[bool]) -> int:
        return self.session.scalar(select(func.count(Ticket.id)).where(self.where, *where)) or 0

    def by_day(self, *where: ColumnElement[bool]) -> list[DayCount]:
        tz = self.period.settings.tz
        days = Counter(
            moment.astimezone(tz).date()
            for moment in self.session.scalars(select(Ticket.created_at).where(self.where, *where))
        )
        return [DayCount(day=day, count=days[day]) for day in self.period.dates()]

    def minutes(self, end: InstrumentedAttribute) -> list[float]:
        stmt = select(minutes_between(Ticket.created_at, end)).where(self.where, end.is_not(None))
        return [float(value) for value in self.session.scalars(stmt)]

    def with_event(self, action: str) -> int:
        """Tickets of the cohort with at least one `action` event."""
        stmt = (
            select(func.count(func.distinct(Event.ticket_id)))
            .join(Ticket, Ticket.id == Event.ticket_id)
            .where(self.where, Event.action == action)
        )
        return self.session.scalar(stmt) or 0


def _last(key: str | int | None) -> tuple[bool, str | int]:
    """Sort key placing null (not given) after every value."""
    return key is None, key or ""


# --- the sections -----------------------------------------------------------------------


def _volume(cohort: _Cohort) -> Volume:
    return Volume(
        total=cohort.count(),
        by_kind=cohort.keyed(Ticket.kind, (k.value for k in TicketKind)),
        by_category=cohort.buckets(Ticket.category),
        by_product_model=cohort.buckets(Ticket.product_model),
        by_channel=cohort.keyed(Ticket.channel, (c.value for c in Channel)),
        by_priority=cohort.keyed(Ticket.priority, PRIORITIES),
        safety=cohort.count(Ticket.safety.is_(True)),
        by_day=cohort.by_day(),
    )


def breached(target: str, now: datetime) -> ColumnElement[bool]:
    """The ticket missed `target`: marked breached, met late, overdue on an open ticket
    whose clock runs (the check may not have marked it yet), or an `sla_breached` event
    says so (a reopen clears the mark and restarts the resolve clock; the event stays)."""
    due, done = getattr(Ticket, f"{target}_due_at"), DONE_AT[target]
    return or_(
        getattr(Ticket, f"{target}_breached_at").is_not(None),
        and_(done.is_not(None), done > due),
        and_(done.is_(None), due <= now, Ticket.status.in_(OPEN), Ticket.paused_at.is_(None)),
        exists().where(
            Event.ticket_id == Ticket.id,
            Event.action == "sla_breached",
            Event.data["target"].as_string() == target,
        ),
    )


def _sla_figures(due: int, met: int, missed: int) -> SlaFigures:
    return SlaFigures(
        due=due,
        met=met,
        breached=missed,
        pending=due - met - missed,
        compliance=_rate(met, met + missed),
    )


def _sla(session: Session, p: Period, settings: Settings, now: datetime) -> SlaReport:
    """Per target: the tickets due in the period, met on time or breached (S5.2, S9.1)."""
    targets: dict[str, SlaFigures] = {}
    for target in TARGETS:
        due_at, done = getattr(Ticket, f"{target}_due_at"), DONE_AT[target]
        missed = breached(target, now)
        met = and_(done.is_not(None), done <= due_at, not_(missed))
        row = session.execute(
            select(func.count(Ticket.id), _count_if(met), _count_if(missed)).where(
                p.contains(due_at)
            )
        ).one()
        targets[target] = _sla_figures(*row)
    overall = _sla_figures(
        *(sum(getattr(f, name) for f in targets.values()) for name in ("due", "met", "breached"))
    )
    return SlaReport(
        targets=targets,
        overall=overall,
        compliance_target=_target_vs_actual(settings.sla_compliance_target, overall.compliance),
    )


def _time_in_state(session: Session, cohort: _Cohort) -> TimeInState:
    """Mean minutes per ticket in each status (S5.3), from the status events.

    Each event that changes the status opens a stay that the next one closes; actions
    that keep the status (escalate, pause, …) do not split it. A stay not yet left is not
    counted (its length is unknown), nor are the end states closed and cancelled.
    """
    to_status = Event.data["to"].as_string()
    entries = (
        select(
            Event.ticket_id.label("ticket_id"),
            to_status.label("status"),
            Event.occurred_at.label("entered"),
            func.lead(Event.occurred_at)
            .over(partition_by=Event.ticket_id, order_by=Event.seq)
            .label("left"),
        )
        .join(Ticket, Ticket.id == Event.ticket_id)
        .where(
            cohort.where,
            Event.action.in_(STATUS_ACTIONS),
            or_(Event.action == "created", Event.data["from"].as_string() != to_status),
        )
        .subquery()
    )
    per_ticket = (
        select(
            entries.c.ticket_id,
            entries.c.status,
            func.sum(minutes_between(entries.c.entered, entries.c.left)).label("minutes"),
        )
        .where(entries.c.left.is_not(None), entries.c.status.not_in(TERMINAL))
        .group_by(entries.c.ticket_id, entries.c.status)
        .subquery()
    )

    def grouped(*by: InstrumentedAttribute) -> dict[object, dict[str, StateTime]]:
        """{group key (None without `by`): {status: figures}}."""
        rows = session.execute(
            select(*by, per_ticket.c.status, func.count(), func.avg(per_ticket.c.minutes))
            .join(Ticket, Ticket.id == per_ticket.c.ticket_id)
            .group_by(*by, per_ticket.c.status)
        ).all()
        found: dict[object, dict[str, StateTime]] = {}
        for *key, status, tickets, mean in rows:
            key = key[0] if key else None
            found.setdefault(key, {})[status] = StateTime(
                tickets=tickets, mean_minutes=_round(mean)
            )
        order = [s.value for s in TicketStatus]  # workflow order
        return {
            key: dict(sorted(states.items(), key=lambda kv: order.index(kv[0])))
            for key, states in found.items()
        }

    by_kind = grouped(Ticket.kind)
    by_category = grouped(Ticket.category)
    return TimeInState(
        overall=grouped().get(None, {}),
        by_kind={kind.value: by_kind[kind.value] for kind in TicketKind if kind.value in by_kind},
        by_category=[
            CategoryStates(category=key, states=by_category[key])
            for key in sorted(by_category, key=_last)
        ],
    )


def _csat(cohort: _Cohort, settings: Settings) -> CsatReport:
    """Ratings of the cohort's tickets, against the CSAT target (S4.6, S5.2)."""
    found = dict(
        cohort.session.execute(
            select(Feedback.rating, func.count())
            .join(Ticket, Ticket.id == Feedback.ticket_id)
            .where(cohort.where)
            .group_by(Feedback.rating)
        ).all()
    )
    count = sum(found.values())
    satisfied = sum(n for rating, n in found.items() if rating >= SATISFIED)
    mean = _round(sum(r * n for r, n in found.items()) / count) if count else None
    return CsatReport(
        count=count,
        mean=mean,
        distribution={str(r): found.get(r, 0) for r in RATINGS},
        satisfied=satisfied,
        satisfied_rate=_rate(satisfied, count),
        target=_target_vs_actual(settings.csat_target, mean),
    )


def _effect(cohort: _Cohort, total: int) -> EffectReport:
    """Reopen and escalation rates, repeat complainants and repeat contacts (S4.6)."""
    session = cohort.session
    complaints = func.count(Ticket.id)
    repeat = session.execute(
        select(Ticket.customer_id, complaints)
        .where(cohort.where, Ticket.kind == TicketKind.complaint.value)
        .group_by(Ticket.customer_id)
        .having(complaints >= 2)
        .order_by(complaints.desc(), Ticket.customer_id)
    ).all()
    per_customer = (
        select(Ticket.customer_id, func.count(Ticket.id).label("tickets"))
        .where(cohort.where)
        .group_by(Ticket.customer_id)
        .subquery()
    )
    customers, repeat_contacts = session.execute(
        select(func.count(), _count_if(per_customer.c.tickets >= 2))
    ).one()
    resolved = cohort.with_event("resolve")
    reopened = cohort.with_event("reopen")
    escalated = cohort.with_event("escalate")
    return EffectReport(
        tickets=total,
        resolved=resolved,
        reopened=reopened,
        reopen_rate=_rate(reopened, resolved),
        escalated=escalated,
        escalation_rate=_rate(escalated, total),
        repeat_complainants=RepeatComplainants(
            count=len(repeat),
            customers=[RepeatComplainant(customer_id=c, complaints=n) for c, n in repeat],
        ),
        customers=customers,
        repeat_contact_customers=repeat_contacts,
        repeat_contact_rate=_rate(repeat_contacts, customers),
    )


def _handoff_steps():
    """Each conversation's queue entries, claims and releases, with the step after each
    (`next_action`, `next_at`): the wait before a claim, the length of a hold."""
    after = {"partition_by": Event.subject_id, "order_by": Event.seq}
    return (
        select(
            Event.action.label("action"),
            Event.occurred_at.label("at"),
            func.lead(Event.action).over(**after).label("next_action"),
            func.lead(Event.occurred_at).over(**after).label("next_at"),
        )
        .where(
            Event.subject_type == CONVERSATION,
            Event.action.in_((*WAITING_ENTRIES, *TAKEN, RELEASED)),
        )
        .subquery()
    )


def _handoffs(session: Session, p: Period) -> HandoffReport:
    """Handoff rate, bot containment and the wait before an agent takes over (S4.4)."""
    conversation_event = Event.subject_type == CONVERSATION
    queued = and_(
        conversation_event, Event.action.in_(WAITING_ENTRIES), p.contains(Event.occurred_at)
    )
    active = union(
        select(Conversation.id).where(p.contains(Conversation.created_at)),
        select(Message.conversation_id).where(p.contains(Message.created_at)),
        select(Event.subject_id).where(queued),
    ).subquery()
    conversations = session.scalar(select(func.count()).select_from(active)) or 0
    handed_off = session.scalar(select(func.count(func.distinct(Event.subject_id))).where(queued))
    handed_off = handed_off or 0

    steps = _handoff_steps()
    taken = steps.c.next_action.in_(TAKEN)
    claimed, abandoned, mean_wait = session.execute(
        select(
            _count_if(taken),
            _count_if(steps.c.next_action == RELEASED),
            func.avg(case((taken, minutes_between(steps.c.at, steps.c.next_at)))),
        ).where(steps.c.action.in_(WAITING_ENTRIES), p.contains(steps.c.at))
    ).one()
    handoff_rate = _rate(handed_off, conversations)
    return HandoffReport(
        conversations=conversations,
        handed_off=handed_off,
        handoff_rate=handoff_rate,
        bot_containment_rate=None if handoff_rate is None else round(1 - handoff_rate, 4),
        claimed=claimed,
        abandoned=abandoned,
        mean_wait_minutes=_round(mean_wait),
    )


def _cost(
    session: Session, p: Period, settings: Settings, *, tickets: int, conversations: int
) -> CostReport:
    """The period's cost under the cost model in `settings` (S4.4). Agent time is each
    claim of a conversation in the period until the agent let it go (released, requeued
    or reassigned: the next handoff step); a claim still held is not counted yet.
    A field visit is each `start` of a service order in the period."""
    held = _handoff_steps()
    agent_minutes = session.scalar(
        select(func.coalesce(func.sum(minutes_between(held.c.at, held.c.next_at)), 0.0)).where(
            held.c.action.in_(TAKEN), held.c.next_at.is_not(None), p.contains(held.c.at)
        )
    )
    visits = session.scalar(
        select(func.count()).where(Event.action == "start", p.contains(Event.occurred_at))
    )
    rates = CostRates(
        agent_hour=settings.cost_per_agent_hour,
        conversation=settings.cost_per_conversation,
        field_visit=settings.cost_per_field_visit,
    )
    agent_cost = round(float(agent_minutes) / 60 * rates.agent_hour, 2)
    conversation_cost = round(conversations * rates.conversation, 2)
    visit_cost = round((visits or 0) * rates.field_visit, 2)
    total = round(agent_cost + conversation_cost + visit_cost, 2)
    return CostReport(
        currency=settings.cost_currency,
        rates=rates,
        agent_minutes=round(float(agent_minutes), 1),
        conversations=conversations,
        field_visits=visits or 0,
        agent_cost=agent_cost,
        conversation_cost=conversation_cost,
        field_visit_cost=visit_cost,
        total=total,
        per_ticket=round(total / tickets, 2) if tickets else None,
    )


def _complaints(cohort: _Cohort) -> ComplaintSummary:
    """Complaints only (S9.3), with those naming a staff member (S10.2)."""
    complaint = Ticket.kind == TicketKind.complaint.value
    by_status = cohort.keyed(Ticket.status, (s.value for s in TicketStatus), complaint)
    by_model = cohort.buckets(Ticket.product_model, complaint)
    about = Ticket.about_staff_id
    by_member = cohort.counts(about, complaint, about.is_not(None))
    return ComplaintSummary(
        total=sum(by_status.values()),
        open=sum(by_status[s] for s in OPEN),
        closed=sum(n for s, n in by_status.items() if s not in OPEN),
        by_status=by_status,
        by_category=cohort.buckets(Ticket.category, complaint),
        by_product_model=by_model,
        top_product_models=[b for b in by_model if b.key is not None][:TOP_PRODUCTS],
        about_staff=sum(by_member.values()),
        about_staff_by_member=[
            StaffCount(staff_id=staff, complaints=n)
            for staff, n in sorted(by_member.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        by_day=cohort.by_day(complaint),
    )


def qa_summary(session: Session, settings: Settings, p: Period, now: datetime) -> QaSummary:
    """QA sampling (S8.2): samples drawn, reviews scored and rectifications opened in the
    period; failures by criterion and by the agent who handled the ticket."""
    drawn = p.contains(QaSample.created_at)
    samples, sampled, pending = session.execute(
        select(
            func.count(func.distinct(QaSample.id)),
            func.count(QaReview.id),
            _count_if(and_(QaReview.id.is_not(None), QaReview.reviewed_at.is_(None))),
        )
        .outerjoin(QaReview, QaReview.sample_id == QaSample.id)
        .where(drawn)
    ).one()
    scored = p.contains(QaReview.reviewed_at)
    points = {c: QaReview.scores[c.value].as_integer() for c in Criterion}
    row = session.execute(
        select(
            func.count(QaReview.id),
            _count_if(QaReview.passed.is_(True)),
            *(
                column
                for c in Criterion
                for column in (
                    func.avg(points[c]),
                    _count_if(points[c] == 0),
                    _count_if(points[c] == 1),
                )
            ),
        ).where(scored)
    ).one()
    reviewed, passed, *per_criterion = row
    by_agent = session.execute(
        select(QaReview.agent_id, func.count(), _count_if(QaReview.passed.is_(False)))
        .where(scored)
        .group_by(QaReview.agent_id)
    ).all()
    done = QaRectification.done_at.is_not(None)
    opened, closed, late = session.execute(
        select(
            func.count(),
            _count_if(done),
            _count_if(and_(not_(done), QaRectification.due_at <= now)),
        ).where(p.contains(QaRectification.created_at))
    ).one()
    return QaSummary(
        samples=samples,
        sampled=sampled,
        pending=pending,
        reviewed=reviewed,
        passed=passed,
        failed=reviewed - passed,
        pass_rate=_rate(passed, reviewed),
        pass_threshold=settings.qa_pass_threshold,
        by_criterion={
            c.value: QaCriterionFigures(
                mean_points=_round(per_criterion[3 * i]),
                not_met=per_criterion[3 * i + 1],
                partly_met=per_criterion[3 * i + 2],
            )
            for i, c in enumerate(Criterion)
        },
        by_agent=[
            QaAgentFigures(
                agent_id=agent, reviewed=n, failed=failed, pass_rate=_rate(n - failed, n)
            )
            for agent, n, failed in sorted(by_agent, key=lambda r: (-r[2], *_last(r[0])))
        ],
        rectifications=QaRectificationFigures(
            opened=opened, open=opened - closed, done=closed, overdue=late
        ),
    )


def complaint_report(session: Session, settings: Settings, p: Period) -> ComplaintReport:
    """The whole report of one period (S9.3, S4.4, S4.6, S5.2, S5.3)."""
    now = utcnow()
    cohort = _Cohort(session, p)
    volume = _volume(cohort)
    handoffs = _handoffs(session, p)
    return ComplaintReport(
        period=p.out(),
        generated_at=now,
        volume=volume,
        sla=_sla(session, p, settings, now),
        response_times=ResponseTimes(
            first_response=distribution(cohort.minutes(Ticket.first_response_at)),
            resolution=distribution(cohort.minutes(Ticket.resolved_at)),
        ),
        time_in_state=_time_in_state(session, cohort),
        csat=_csat(cohort, settings),
        effect=_effect(cohort, volume.total),
        handoffs=handoffs,
        cost=_cost(
            session, p, settings, tickets=volume.total, conversations=handoffs.conversations
        ),
        complaints=_complaints(cohort),
        qa=qa_summary(session, settings, p, now),
    )


# --- the spreadsheet export -------------------------------------------------------------

TICKET_FIELDS = (
    "ref",
    "kind",
    "category",
    "product_model",
    "channel",
    "priority",
    "safety",
    "status",
    "created_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "escalation_level",
)
CSV_COLUMNS = (*TICKET_FIELDS, "breached", "rating")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object, settings: Settings) -> str:
    """One CSV cell: local ISO times; text that a spreadsheet would run as a formula is
    quoted with a leading apostrophe (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(settings.tz).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def tickets_csv(session: Session, settings: Settings, p: Period) -> str:
    """The tickets created in the period, one row each, without personal data.

    `breached` lists the missed SLA targets, separated by ";". Starts with a UTF-8 BOM so
    that spreadsheets read Chinese categories correctly.
    """
    now = utcnow()
    stmt = (
        select(
            *(getattr(Ticket, name) for name in TICKET_FIELDS),
            Feedback.rating,
            *(case((breached(t, now), t)).label(f"missed_{t}") for t in TARGETS),
        )
        .outerjoin(Feedback, Feedback.ticket_id == Ticket.id)
        .where(p.contains(Ticket.created_at))
        .order_by(Ticket.created_at, Ticket.id)
    )
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in session.execute(stmt).mappings():
        missed = ";".join(row[f"missed_{t}"] for t in TARGETS if row[f"missed_{t}"])
        values = {**row, "breached": missed}
        writer.writerow(_cell(values[name], settings) for name in CSV_COLUMNS)
    return out.getvalue()
