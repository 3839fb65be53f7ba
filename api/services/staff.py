"""Staff administration and availability (S5.4 qualifications, S10.1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.actor import Actor
from api.errors import Conflict, Invalid, NotFound
from api.models import Staff
from api.models.enums import Role
from api.services import audit, auth, conversations


def get(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"no staff member {staff_id}")
    return staff


def active(session: Session, staff_id: int) -> Staff:
    """The staff member a ticket or task is being given to; 422 if absent or inactive."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise Invalid(f"staff {staff_id} does not exist or is inactive")
    return staff


def listing(session: Session, *, active: bool | None = None, team: str | None = None):
    query = select(Staff).order_by(Staff.username)
    if active is not None:
        query = query.where(Staff.active == active)
    if team is not None:
        query = query.where(Staff.team == team)
    return list(session.scalars(query))


def set_availability(session: Session, actor: Actor, available: bool) -> Staff:
    """Whether this staff member takes handoffs now (counted in `agents_available`)."""
    staff = get(session, actor.staff_id)
    if staff.available != available:
        staff.available = available
        audit.record(session, actor, "availability_changed", staff, data={"available": available})
    return staff


def create(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str | None = None,
    team: str | None = None,
    skills: list[str] | None = None,
) -> Staff:
    """A new staff member; a taken username is a Conflict, a short password Invalid."""
    try:
        with session.begin_nested():
            staff = auth.create_user(
                session,
                username,
                password,
                role,
                display_name=display_name,
                team=team,
                skills=skills,
            )
            session.flush()
    except IntegrityError:  # the same username created concurrently
        raise Conflict(f"user {username!r} already exists") from None
    audit.record(
        session,
        actor,
        "staff_created",
        staff,
        data={"role": staff.role, "team": staff.team, "skills": staff.skills},
    )
    return staff


def update(session: Session, actor: Actor, staff_id: int, changes: dict[str, Any]) -> Staff:
    """Change role, team, skills or active; a deactivated member's conversations are requeued.

    Admins cannot demote or deactivate themselves (there would be no one to undo it).
    """
    staff = get(session, staff_id)
    if staff.id == actor.staff_id and (
        changes.get("active") is False or changes.get("role", Role.admin) != Role.admin
    ):
        raise Conflict("you cannot demote or deactivate yourself; ask another admin")
    changed = {key: value for key, value in changes.items() if getattr(staff, key) != value}
    for key, value in changed.items():
        setattr(staff, key, value)
    if changed.get("active") is False:
        staff.available = False
        conversations.requeue_held_by(session, actor, staff.id)
    if changed:
        audit.record(session, actor, "staff_updated", staff, data=changed)
    return staff
