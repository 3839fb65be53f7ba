"""FastAPI dependencies: sessions, the acting user, role checks.

Route signatures read like prose: `session: WriteSession, actor: StaffOnly`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.actor import SERVICE, Actor
from api.db import Database
from api.models import Staff
from api.models.enums import ActorType, Role
from api.services.auth import staff_id_from_token
from api.settings import Settings

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    # async dependencies run on the event loop, without a thread-pool hand-off
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


def read_session(request: Request) -> Iterator[Session]:
    yield from request.app.state.db.read_session()


def write_session(request: Request) -> Iterator[Session]:
    yield from request.app.state.db.write_session()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]

_UNAUTHENTICATED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    "not authenticated: send 'Authorization: Bearer <token>'",
    headers={"WWW-Authenticate": "Bearer"},
)


def _staff_actor(app, staff_id: int) -> Actor | None:
    with app.state.db.reader() as session:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active:
            return None
        return Actor(ActorType.staff, str(staff.id), Role(staff.role), staff.team)


async def current_actor(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """Service clients are recognised on the event loop; a staff token needs the
    database, which is read in the thread pool."""
    if not token:
        raise _UNAUTHENTICATED
    settings: Settings = request.app.state.settings
    if hmac.compare_digest(token.encode(), settings.service_bearer.encode()):
        return SERVICE
    actor = await staff_from_token(request.app, token)
    if actor is None:
        raise _UNAUTHENTICATED
    return actor


async def staff_from_token(app, token: str) -> Actor | None:
    """The active staff member a login token is for (None: invalid, expired, inactive)."""
    staff_id = staff_id_from_token(token)
    if staff_id is None:
        return None
    return await run_in_threadpool(_staff_actor, app, staff_id)


def allow(*, service: bool = False, role: Role | None = None):
    """A dependency admitting service clients (if `service`) and staff of `role` or above."""

    async def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.type is ActorType.service and service:
            return actor
        if actor.type is ActorType.staff and role is not None and actor.at_least(role):
            return actor
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")

    return check


AnyActor = Annotated[Actor, Depends(allow(service=True, role=Role.agent))]
ServiceOnly = Annotated[Actor, Depends(allow(service=True))]
StaffOnly = Annotated[Actor, Depends(allow(role=Role.agent))]
Supervisor = Annotated[Actor, Depends(allow(role=Role.supervisor))]
Admin = Annotated[Actor, Depends(allow(role=Role.admin))]
