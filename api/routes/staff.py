"""HTTP routes: staff availability and administration (S5.4 qualifications)."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Admin, ReadSession, StaffOnly, Supervisor, WriteSession
from api.schemas.staff import AvailabilityIn, StaffCreate, StaffOut, StaffUpdate
from api.services import staff as staff_service

router = APIRouter(prefix="/api/v1", tags=["staff"])


@router.put("/staff/me/availability")
def set_availability(body: AvailabilityIn, actor: StaffOnly, session: WriteSession) -> StaffOut:
    """Whether I take handoffs now (any staff member)."""
    staff = staff_service.set_availability(session, actor, body.available)
    session.commit()
    return StaffOut.model_validate(staff)


@router.get("/staff")
def list_staff(
    _actor: Supervisor,
    session: ReadSession,
    active: bool | None = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> list[StaffOut]:
    """Staff members (supervisors and admins)."""
    return [
        StaffOut.model_validate(s) for s in staff_service.listing(session, active=active, team=team)
    ]


@router.post("/staff", status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffCreate, actor: Admin, session: WriteSession) -> StaffOut:
    """Create a staff member (admins). 409 if the username is taken, 422 for a short password."""
    staff = staff_service.create(
        session,
        actor,
        body.username,
        body.password,
        body.role,
        display_name=body.display_name,
        team=body.team,
        skills=[str(skill) for skill in body.skills] if body.skills is not None else None,
    )
    session.commit()
    return StaffOut.model_validate(staff)


@router.patch("/staff/{staff_id}")
def update_staff(staff_id: int, body: StaffUpdate, actor: Admin, session: WriteSession) -> StaffOut:
    """Change role, team, skills or active (admins)."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    staff = staff_service.update(session, actor, staff_id, changes)
    session.commit()
    return StaffOut.model_validate(staff)
