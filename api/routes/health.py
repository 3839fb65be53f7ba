"""Liveness and readiness."""

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import ReadSession

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: ReadSession) -> dict:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
