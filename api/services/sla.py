"""SLA clocks (S5.2, S9.1): the business calendar, the policies, due times, pause/resume.

Every target (acknowledge, first response, resolve) is a number of business minutes
per ticket kind × priority. Business minutes are counted on a calendar: opening hours
on the configured weekdays in the configured timezone, with exceptions by date (public
holidays off, working weekends — 调休 — on). The clock stops while the ticket waits
on the customer: on resume every unmet due time moves on by the business minutes the
ticket was paused.

This module computes and stores clocks; breach detection and escalation live in
`escalation` (which uses the workflow; this module must not).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import URL, select
from sqlalchemy.orm import Session

from api.actor import Actor
from api.errors import Conflict, Invalid, NotFound
from api.models import CalendarDay, SlaPolicy, Ticket
from api.models.enums import TicketKind, TicketStatus
from api.services import audit
from api.settings import Settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TARGETS = ("acknowledge", "first_response", "resolve")
MAX_MINUTES = 365 * 24 * 60  # no target is longer than a year of business minutes

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: SLA maths needs timezone-aware instants")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours on working days in one timezone; pure, no database.

    `exceptions` maps a local date to whether it is a working day, overriding the
    weekday rule (holidays: False, working weekends: True).
    """

    tz: ZoneInfo
    opens: time
    closes: time
    weekdays: frozenset[int]  # 0 = Monday
    exceptions: Mapping[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError("business hours must open before they close")
        if not self.weekdays:
            raise ValueError("at least one weekday must be a business day")

    @classmethod
    def from_settings(
        cls, settings: Settings, exceptions: Mapping[date, bool] | None = None
    ) -> BusinessCalendar:
        names = [name.strip().lower() for name in settings.business_days.split(",")]
        unknown = [name for name in names if name not in WEEKDAYS]
        if unknown:
            raise ValueError(f"BUSINESS_DAYS: unknown day(s) {unknown}; use {','.join(WEEKDAYS)}")
        return cls(
            tz=settings.tz,
            opens=time.fromisoformat(settings.business_hours_start),
            closes=time.fromisoformat(settings.business_hours_end),
            weekdays=frozenset(WEEKDAYS.index(name) for name in names),
            exceptions=exceptions or {},
        )

    def is_working(self, day: date) -> bool:
        return self.exceptions.get(day, day.weekday() in self.weekdays)

    def _windows(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening and closing instants (UTC) of every working day from `moment`'s local
        day on. Computed per local day, so a DST change shifts them correctly."""
        day = moment.astimezone(self.tz).date()
        while True:
            if self.is_working(day):
                yield (
                    datetime.combine(day, self.opens, self.tz).astimezone(UTC),
                    datetime.combine(day, self.closes, self.tz).astimezone(UTC),
                )
            day += _DAY

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant `minutes` business minutes after `start` (aware UTC)."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        start = _utc(start)
        remaining = timedelta(minutes=minutes)
        if not remaining:
            return start
        for opens, closes in self._windows(start):
            begin = max(start, opens)
            if begin >= closes:
                continue
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise AssertionError("unreachable: the calendar has working days every week")

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole business minutes from `start` to `end` (negative if `end` is earlier)."""
        start, end = _utc(start), _utc(end)
        if end < start:
            return -self.minutes_between(end, start)
        total = timedelta()
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            total += max(timedelta(), min(closes, end) - max(opens, start))
        return total // _MINUTE


class Targets(NamedTuple):
    """Business minutes to acknowledge, to respond first, to resolve."""

    acknowledge: int
    first_response: int
    resolve: int


# --- the stored calendar exceptions and policies, cached ---------------------------------

CACHE_SECONDS = 60  # how soon this process sees a change made by another one


@dataclass(frozen=True)
class _Stored:
    exceptions: Mapping[date, bool]
    policies: Mapping[tuple[str, int], Targets]
    expires: float  # monotonic()


class _StoredCache:
    """The calendar exceptions and policies of each database (by URL), read at most once
    every CACHE_SECONDS instead of on every ticket. The services that change them call
    `forget()` after committing; a read that overlapped a `forget()` is not kept."""

    def __init__(self) -> None:
        self._entries: dict[URL, _Stored] = {}
        self._generation = 0

    def get(self, session: Session) -> _Stored:
        url = session.get_bind().url
        stored = self._entries.get(url)
        if stored is not None and stored.expires > monotonic():
            return stored
        generation = self._generation
        with session.no_autoflush:  # a ticket being built may still be incomplete
            days = session.execute(select(CalendarDay.day, CalendarDay.working))
            exceptions = dict(days.all())
            policies = {
                (kind, level): Targets(*minutes)
                for kind, level, *minutes in session.execute(
                    select(
                        SlaPolicy.kind,
                        SlaPolicy.priority,
                        SlaPolicy.acknowledge_minutes,
                        SlaPolicy.first_response_minutes,
                        SlaPolicy.resolve_minutes,
                    )
                )
            }
        stored = _Stored(exceptions, policies, expires=monotonic() + CACHE_SECONDS)
        if generation == self._generation:
            self._entries[url] = stored
        return stored

    def forget(self) -> None:
        self._generation += 1
        self._entries.clear()


_stored = _StoredCache()


def forget_stored() -> None:
    """Read the calendar exceptions and policies afresh (after changing them, or after
    writing their tables directly, as the tests do)."""
    _stored.forget()


def load_calendar(session: Session, settings: Settings) -> BusinessCalendar:
    """The business calendar: `settings`' hours and weekdays, the stored exceptions."""
    return BusinessCalendar.from_settings(settings, _stored.get(session).exceptions)


# --- policies (S5.2) ------------------------------------------------------------------


# one business day = 540 minutes on the default 09:00–18:00 calendar
_ENQUIRY = {
    1: Targets(30, 60, 240),
    2: Targets(60, 120, 540),
    3: Targets(120, 240, 1080),
    4: Targets(240, 540, 2160),
}
_COMPLAINT = {
    1: Targets(30, 60, 480),
    2: Targets(60, 240, 1080),
    3: Targets(120, 480, 2700),
    4: Targets(240, 1080, 5400),
}
# service orders need a visit: the same quick acknowledgement, longer to resolve (S6.1)
_SERVICE_ORDER = {
    1: Targets(30, 120, 1080),
    2: Targets(60, 240, 2160),
    3: Targets(120, 540, 3780),
    4: Targets(240, 1080, 5400),
}

# kind × priority → targets; safety reports are always priority 1 (see `priority`)
DEFAULT_POLICIES: dict[tuple[TicketKind, int], Targets] = {
    (kind, level): targets
    for kind in TicketKind
    for level, targets in (
        _ENQUIRY
        if kind is TicketKind.inquiry
        else _COMPLAINT
        if kind is TicketKind.complaint
        else _SERVICE_ORDER
    ).items()
}


def seed_policies(session: Session) -> int:
    """Add the default policy of every kind × priority that has none; never overwrite."""
    existing = {
        (kind, level) for kind, level in session.execute(select(SlaPolicy.kind, SlaPolicy.priority))
    }
    missing = [key for key in DEFAULT_POLICIES if (key[0].value, key[1]) not in existing]
    for kind, level in missing:
        session.add(_policy_row(kind, level, DEFAULT_POLICIES[kind, level]))
    return len(missing)


def _policy_row(kind: str, level: int, targets: Targets) -> SlaPolicy:
    return SlaPolicy(
        kind=kind,
        priority=level,
        acknowledge_minutes=targets.acknowledge,
        first_response_minutes=targets.first_response,
        resolve_minutes=targets.resolve,
    )


def targets_for(session: Session, kind: str, priority: int) -> Targets:
    """The configured policy's targets, or the default's if none is stored."""
    targets = _stored.get(session).policies.get((kind, priority))
    if targets is not None:
        return targets
    key = (TicketKind(kind), priority)
    if key not in DEFAULT_POLICIES:
        raise Invalid(f"no SLA policy for {kind} priority {priority}")
    return DEFAULT_POLICIES[key]


def list_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.kind, SlaPolicy.priority)))


def set_policy(
    session: Session, actor: Actor, kind: TicketKind, priority: int, targets: Targets
) -> SlaPolicy:
    """Create or change one policy (S5.2); applies to due times computed from now on."""
    if priority not in (1, 2, 3, 4):
        raise Invalid("priority must be 1 (highest) … 4")
    if min(targets) <= 0 or max(targets) > MAX_MINUTES:
        raise Invalid(f"every target must be between 1 and {MAX_MINUTES} business minutes")
    if not targets.acknowledge <= targets.first_response <= targets.resolve:
        raise Invalid("targets must satisfy acknowledge ≤ first_response ≤ resolve")
    policy = session.scalar(
        select(SlaPolicy)
        .where(SlaPolicy.kind == kind.value, SlaPolicy.priority == priority)
        .with_for_update()
    )
    before = None
    if policy is None:
        policy = _policy_row(kind.value, priority, targets)
        session.add(policy)
    else:
        before = list(_targets_of(policy))
        policy.acknowledge_minutes, policy.first_response_minutes, policy.resolve_minutes = targets
    session.flush()
    audit.record(
        session,
        actor,
        "sla_policy_set",
        policy,
        data={"kind": kind.value, "priority": priority, "from": before, "to": list(targets)},
    )
    session.commit()
    forget_stored()
    return policy


def _targets_of(policy: SlaPolicy) -> Targets:
    return Targets(
        policy.acknowledge_minutes, policy.first_response_minutes, policy.resolve_minutes
    )


# --- calendar exceptions ----------------------------------------------------------------


def _calendar_day(session: Session, day: date) -> CalendarDay | None:
    return session.scalar(select(CalendarDay).where(CalendarDay.day == day).with_for_update())


def list_calendar_days(session: Session) -> list[CalendarDay]:
    return list(session.scalars(select(CalendarDay).order_by(CalendarDay.day)))


def set_calendar_day(
    session: Session, actor: Actor, day: date, *, working: bool, note: str | None
) -> CalendarDay:
    """Mark one date as a holiday (`working=False`) or a working day (调休, `working=True`)."""
    row = _calendar_day(session, day)
    if row is None:
        row = CalendarDay(day=day, working=working, note=note)
        session.add(row)
        session.flush()
    else:
        row.working, row.note = working, note
    audit.record(
        session,
        actor,
        "calendar_day_set",
        row,
        data={"day": day.isoformat(), "working": working},
        text=note,
    )
    session.commit()
    forget_stored()
    return row


def remove_calendar_day(session: Session, actor: Actor, day: date) -> None:
    """Drop an exception: the date follows the weekday rule again."""
    row = _calendar_day(session, day)
    if row is None:
        raise NotFound(f"{day.isoformat()} is not an exception in the calendar")
    audit.record(
        session,
        actor,
        "calendar_day_removed",
        row,
        data={"day": day.isoformat(), "working": row.working},
    )
    session.delete(row)
    session.commit()
    forget_stored()


# --- the clocks of one ticket (S9.1) ---------------------------------------------------


def _due(ticket: Ticket, target: str) -> datetime | None:
    return getattr(ticket, f"{target}_due_at")


def _unmet(ticket: Ticket) -> list[str]:
    """Targets not yet met; resolution is met once the ticket is no longer open."""
    met = {
        "acknowledge": ticket.acknowledged_at is not None,
        "first_response": ticket.first_response_at is not None,
        "resolve": not TicketStatus(ticket.status).is_open,
    }
    return [target for target in TARGETS if not met[target]]


def due_times(
    session: Session, settings: Settings, kind: str, priority: int, now: datetime
) -> dict[str, datetime]:
    """A new ticket's `…_due_at` columns: its kind × priority policy's business minutes
    from `now`."""
    calendar = load_calendar(session, settings)
    targets = targets_for(session, kind, priority)
    return {
        f"{target}_due_at": calendar.add_minutes(now, minutes)
        for target, minutes in zip(TARGETS, targets, strict=True)
    }


def pause(ticket: Ticket, now: datetime) -> None:
    """Stop the clock while the ticket waits on the customer."""
    if ticket.paused_at is not None:
        raise Conflict("the SLA clock is already paused", status=ticket.status)
    ticket.paused_at = now


def resume(session: Session, settings: Settings, ticket: Ticket, now: datetime) -> int:
    """Restart the clock: every unmet due time moves on by the business minutes paused.

    Returns those minutes.
    """
    if ticket.paused_at is None:
        raise Conflict("the SLA clock is not paused", status=ticket.status)
    calendar = load_calendar(session, settings)
    paused = max(0, calendar.minutes_between(ticket.paused_at, now))
    for target in _unmet(ticket):
        due = _due(ticket, target)
        if due is not None and paused:
            setattr(ticket, f"{target}_due_at", calendar.add_minutes(due, paused))
    ticket.paused_at = None
    return paused


def restart_resolution(session: Session, settings: Settings, ticket: Ticket, now: datetime) -> None:
    """A reopened ticket gets a fresh resolve-by from now; its breach can be detected anew
    (the earlier breach stays in the audit trail as an `sla_breached` event)."""
    calendar = load_calendar(session, settings)
    minutes = targets_for(session, ticket.kind, ticket.priority).resolve
    ticket.resolve_due_at = calendar.add_minutes(now, minutes)
    ticket.resolve_breached_at = None


def overdue_targets(ticket: Ticket, now: datetime) -> list[str]:
    """Targets that are due, unmet and not yet marked breached (none while paused or when
    the ticket is no longer open)."""
    if ticket.paused_at is not None or not TicketStatus(ticket.status).is_open:
        return []
    return [
        target
        for target in _unmet(ticket)
        if (due := _due(ticket, target)) is not None
        and due <= now
        and getattr(ticket, f"{target}_breached_at") is None
    ]
