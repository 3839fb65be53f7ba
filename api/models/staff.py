"""Service staff: roles, teams and qualifications (S5.4, S7.2, S10.1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime, utcnow


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    # ticket kinds this person is trained for (S5.4); empty = none, ["*"] = all
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    available: Mapped[bool] = mapped_column(default=False)  # taking handoffs now
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def qualified_for(self, kind: str) -> bool:
        return "*" in self.skills or kind in self.skills
