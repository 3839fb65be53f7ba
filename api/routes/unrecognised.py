"""HTTP routes: messages the assistant did not understand, and their list (S12.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import ReadSession, ServiceOnly, SettingsDep, Supervisor, WriteSession
from api.routes.reports import From, To
from api.schemas.unrecognised import (
    UnrecognisedIn,
    UnrecognisedLogged,
    UnrecognisedReason,
    UnrecognisedReport,
)
from api.services import reports, unrecognised

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.post("/unrecognised", status_code=status.HTTP_201_CREATED)
def log_unrecognised(
    body: UnrecognisedIn, actor: ServiceOnly, session: WriteSession
) -> UnrecognisedLogged:
    """A message the assistant did not understand or found out of scope (the action
    server, on its fallback turn)."""
    row = unrecognised.record(session, actor, body)
    out = UnrecognisedLogged(id=row.id, conversation_id=row.conversation_id)
    session.commit()
    return out


@router.get("/reports/unrecognised")
def unrecognised_report(
    session: ReadSession,
    settings: SettingsDep,
    _: Supervisor,
    first: From = None,
    last: To = None,
    reason: UnrecognisedReason | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> UnrecognisedReport:
    """What customers wrote that the assistant did not understand, grouped by text and most
    frequent first: the list to write training examples from (docs/nlu-data.md).
    Supervisors and admins."""
    return unrecognised.report(
        session, reports.period(settings, first, last), reason=reason, limit=limit
    )
