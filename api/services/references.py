"""Human-readable ticket references, e.g. CS-20261124-0007, unique under concurrency.

One counter row per local day, incremented by a single atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.models import TicketCounter

PREFIX = "CS"


def _upsert(dialect: ModuleType) -> Insert:
    table = TicketCounter.__table__
    return (
        dialect.insert(table)
        .values(day=bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )


# built once: a statement built per call costs more than running it
_UPSERT = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


def next_reference(session: Session, now: datetime, tz: ZoneInfo) -> str:
    day = now.astimezone(tz).strftime("%Y%m%d")
    upsert = _UPSERT[session.get_bind().dialect.name]
    number = session.execute(upsert, {"day": day}).scalar_one()
    return f"{PREFIX}-{day}-{number:04d}"
