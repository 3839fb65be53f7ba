"""HTTP routes: the periodic complaint and service report (S9.3, S4.4, S4.6, S5.2, S5.3)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.db import utcnow
from api.deps import ReadSession, SettingsDep, Supervisor
from api.schemas.reports import ComplaintReport, QaReport
from api.services import reports

router = APIRouter(prefix="/api/v1", tags=["reports"])

From = Annotated[
    date | None, Query(alias="from", description="first day (inclusive); default 'to' − 29 days")
]
To = Annotated[date | None, Query(alias="to", description="last day (inclusive); default today")]


@router.get("/reports/complaints")
def complaint_report(
    session: ReadSession, settings: SettingsDep, _: Supervisor, first: From = None, last: To = None
) -> ComplaintReport:
    """Volume, SLA against target, response times, time in each status, CSAT against
    target, effect, handoffs and the complaint summary of whole local days (timezone
    `TIMEZONE`). At most 366 days; `to` before `from` is 422. Supervisors and admins."""
    return reports.complaint_report(session, settings, reports.period(settings, first, last))


@router.get(
    "/reports/complaints.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per ticket"}},
)
def complaint_rows(
    session: ReadSession, settings: SettingsDep, _: Supervisor, first: From = None, last: To = None
) -> Response:
    """The tickets created in the period as CSV for spreadsheets, without personal data."""
    period = reports.period(settings, first, last)
    filename = f"tickets-{period.first}-{period.last}.csv"
    return Response(
        reports.tickets_csv(session, settings, period),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/reports/qa")
def qa_report(
    session: ReadSession, settings: SettingsDep, _: Supervisor, first: From = None, last: To = None
) -> QaReport:
    """QA sampling of delivered tickets (S8.2): samples drawn, reviews scored (pass rate,
    failures by criterion and by agent) and rectifications opened in the period, the
    same section as the complaint report's `qa`. Supervisors and admins."""
    period = reports.period(settings, first, last)
    now = utcnow()
    summary = reports.qa_summary(session, settings, period, now)
    return QaReport(**summary.model_dump(), period=period.out(), generated_at=now)
