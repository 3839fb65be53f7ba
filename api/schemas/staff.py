"""Staff and login schemas."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.models.enums import Role, TicketKind


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    team: str | None
    skills: list[str]
    active: bool
    available: bool


Skill = TicketKind | Literal["*"]  # "*": qualified for every kind
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{2,64}$")
]
Team = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Annotated[str, StringConstraints(max_length=128)]
    role: Role = Role.agent
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    team: Team | None = None
    skills: list[Skill] | None = Field(
        default=None, description="Ticket kinds this person is qualified for (S5.4); '*' = all"
    )


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    team: Team | None = None
    skills: list[Skill] | None = None
    active: bool | None = None

    @field_validator("role", "skills", "active")
    @classmethod
    def _not_null(cls, value):
        if value is None:  # only an explicit null gets here (defaults are not validated)
            raise ValueError("may be changed but not cleared")
        return value
