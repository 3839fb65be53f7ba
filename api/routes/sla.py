"""HTTP routes: SLA policies, the business calendar and the on-demand check (S5.2, S9.1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.db import utcnow
from api.deps import Admin, ReadSession, SettingsDep, StaffOnly, Supervisor, WriteSession
from api.models.enums import TicketKind
from api.schemas.sla import (
    CalendarDayIn,
    CalendarDayOut,
    CalendarOut,
    CheckResult,
    PolicyIn,
    PolicyOut,
)
from api.services import escalation, sla

router = APIRouter(prefix="/api/v1", tags=["sla"])

Priority = Annotated[int, Path(ge=1, le=4, description="1 (highest) … 4")]


@router.get("/sla/policies", response_model=list[PolicyOut])
def list_policies(session: ReadSession, _: StaffOnly) -> list[PolicyOut]:
    """Targets per ticket kind × priority, in business minutes."""
    return [PolicyOut.model_validate(policy) for policy in sla.list_policies(session)]


@router.put("/sla/policies/{kind}/{priority}", response_model=PolicyOut)
def set_policy(
    kind: TicketKind, priority: Priority, body: PolicyIn, session: WriteSession, actor: Admin
) -> PolicyOut:
    """Create or change one policy; tickets created from now on use it."""
    targets = sla.Targets(
        body.acknowledge_minutes, body.first_response_minutes, body.resolve_minutes
    )
    return PolicyOut.model_validate(sla.set_policy(session, actor, kind, priority, targets))


@router.get("/sla/calendar", response_model=CalendarOut)
def get_calendar(session: ReadSession, settings: SettingsDep, _: StaffOnly) -> CalendarOut:
    """Business hours and days (configuration) and the dated exceptions (holidays, 调休)."""
    calendar = sla.BusinessCalendar.from_settings(settings)
    return CalendarOut(
        timezone=settings.timezone,
        business_hours_start=calendar.opens,
        business_hours_end=calendar.closes,
        business_days=[sla.WEEKDAYS[day] for day in sorted(calendar.weekdays)],
        exceptions=[CalendarDayOut.model_validate(d) for d in sla.list_calendar_days(session)],
    )


@router.put("/sla/calendar/{day}", response_model=CalendarDayOut)
def set_calendar_day(
    day: date, body: CalendarDayIn, session: WriteSession, actor: Admin
) -> CalendarDayOut:
    """Mark a date as a holiday (`working: false`) or a working day (`working: true`)."""
    row = sla.set_calendar_day(session, actor, day, working=body.working, note=body.note)
    return CalendarDayOut.model_validate(row)


@router.delete("/sla/calendar/{day}", status_code=status.HTTP_204_NO_CONTENT)
def remove_calendar_day(day: date, session: WriteSession, actor: Admin) -> Response:
    """The date follows the weekly rule again."""
    sla.remove_calendar_day(session, actor, day)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sla/check", response_model=CheckResult)
def run_check(request: Request, settings: SettingsDep, _: Supervisor) -> CheckResult:
    """Run the SLA breach check (escalates, S9.1) and the acceptance timeout (closes, S6.4)
    now, as the background job does; returns what was done."""
    db = request.app.state.db
    now = utcnow()
    return CheckResult(
        checked_at=now,
        breaches=escalation.check_breaches(db, settings, now),
        auto_closed=escalation.auto_close(db, settings, now),
    )
