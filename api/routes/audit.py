"""The audit trail: verify the hash chain (S11.2)."""

from fastapi import APIRouter

from api.deps import ReadSession, Supervisor
from api.services import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify")
def verify(session: ReadSession, _actor: Supervisor) -> dict:
    """`{"ok": true, "events": n}` or `{"ok": false, "first_broken": {seq, id, reason}}`."""
    return audit.verify(session)
