"""Human-readable ticket references, e.g. CS-20261124-0007, unique under concurrency.

One counter row per local day, incremented by a single atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.models import TicketCounter

PREFIX = "CS"


def next_reference(session: Session, now: datetime, tz: ZoneInfo) -> str:
    day = now.astimezone(tz).strftime("%Y%m%d")
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = TicketCounter.__table__
    stmt = (
        dialect.insert(table)
        .values(day=day, last=1)
        .on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    number = session.execute(stmt).scalar_one()
    return f"{PREFIX}-{day}-{number:04d}"
