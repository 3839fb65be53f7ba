"""Data every installation needs (audit chain head, default SLA policies) and the demo
catalogue of the embedded default."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.models import AuditHead
from api.services import audit, canned, catalogue, sla


def bootstrap(session: Session, *, demo: bool) -> None:
    """Idempotent: add what is missing, never overwrite what an operator changed."""
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, seq=0, hash=audit.GENESIS))
    sla.seed_policies(session)
    canned.seed_defaults(session)
    if demo:
        catalogue.seed_demo(session)
    session.commit()
