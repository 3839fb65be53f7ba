"""Who is acting: a staff member, a service client (bot, gateway) or the system itself."""

from __future__ import annotations

from dataclasses import dataclass

from api.models.enums import ActorType, Role

ROLE_RANK = {Role.agent: 1, Role.supervisor: 2, Role.admin: 3}


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str | None = None  # staff id, service name
    role: Role | None = None  # staff only
    team: str | None = None

    @property
    def staff_id(self) -> int | None:
        return int(self.id) if self.type is ActorType.staff and self.id else None

    def at_least(self, role: Role) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[role]


SYSTEM = Actor(ActorType.system, "system")
SERVICE = Actor(ActorType.service, "service")
