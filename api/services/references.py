"""Human-readable ticket references, e.g. CS-20261124-0007, unique under concurrency.

One counter row per local day, incremented by a single atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`), on SQLite and PostgreSQL alike. On
PostgreSQL a new ticket takes its number in its own INSERT (`insert_numbered`), which
also locks the audit chain's head: the counter row and the head stay locked from that
statement to COMMIT, and every create passes through that section one at a time, so it
is kept to the fewest round trips (docs/performance.md).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.models import Ticket, TicketCounter

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


def _day(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).strftime("%Y%m%d")


def next_reference(session: Session, now: datetime, tz: ZoneInfo) -> str:
    day = _day(now, tz)
    upsert = _UPSERT[session.get_bind().dialect.name]
    number = session.execute(upsert, {"day": day}).scalar_one()
    return f"{PREFIX}-{day}-{number:04d}"


@cache
def _numbered_insert(keys: tuple[str, ...]) -> TextClause:
    """PostgreSQL: `INSERT INTO tickets` of the columns `keys` whose `ref` is the day's
    next number (the counter upsert in a data-modifying CTE), which also locks the audit
    head and returns it. Text, to put the CTEs where PostgreSQL wants them (at the top);
    the parameters keep the columns' types (encryption, UTC)."""
    columns = [Ticket.__table__.c[key] for key in keys]
    names = ", ".join(column.name for column in columns)
    values = ", ".join(f":{column.key}" for column in columns)
    return text(
        "WITH number AS (INSERT INTO ticket_counters (day, last) VALUES (:day, 1)"
        " ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last),"
        " head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE)"
        f" INSERT INTO tickets (ref, {names}) VALUES ((SELECT :prefix"
        f" || lpad(last::text, greatest(4, length(last::text)), '0') FROM number), {values})"
        " RETURNING id, ref, (SELECT seq FROM head), (SELECT hash FROM head)"
    ).bindparams(
        bindparam("day", type_=TicketCounter.__table__.c.day.type),
        bindparam("prefix", type_=Ticket.__table__.c.ref.type),
        *(bindparam(column.key, type_=column.type) for column in columns),
    )


def insert_numbered(
    session: Session, now: datetime, tz: ZoneInfo, values: dict[str, Any]
) -> tuple[int, str, tuple[int, str] | None]:
    """PostgreSQL only: insert the ticket `values` (every column but `id` and `ref`) under
    the day's next reference, in one statement that also locks the audit chain's head.
    Returns the ticket's id, its reference and the head's (seq, hash), None if the
    chain has no head row yet."""
    day = _day(now, tz)
    statement = _numbered_insert(tuple(values))
    row = session.execute(statement, {"day": day, "prefix": f"{PREFIX}-{day}-", **values}).one()
    ticket_id, ref, seq, head_hash = row
    return ticket_id, ref, None if seq is None else (seq, head_hash)
