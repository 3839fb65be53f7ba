"""The benchmark's baseline: a bare FastAPI app inserting and reading one row.

Same driver and engine setup as the real app (`api.db.Database.connect`: SQLite in WAL
mode with `BEGIN IMMEDIATE` writers, the same PostgreSQL pool), sync endpoints and a
session dependency like the real app's, in the same database (`DATABASE_URL`), with
tables of its own (`bench_*`). Started by `bench/api.py` as
`uvicorn bench.baseline_app:app`.

`POST /rows` inserts one row: the baseline. `POST /floor` (`bench/api.py --floor`) sends,
in one transaction, the seven statements of the same shape that a ticket create sends
(find the customer by a keyed hash of the phone, insert them, take the day's next
number, insert the row, read and move the audit chain's head, insert the chained event),
through SQLAlchemy Core with nothing else: no ORM objects, encryption, workflow, SLA or
response model. It is the floor that a create doing that work could reach in this stack.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Integer, String, Text, bindparam, insert, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from api.db import Database, UTCDateTime, utcnow


class _Base(DeclarativeBase):
    """Its own metadata: the service desk's schema (`api.db.Base`) is left alone."""


class Row(_Base):
    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Customer(_Base):
    __tablename__ = "bench_customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)


class Counter(_Base):
    __tablename__ = "bench_counters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Head(_Base):
    __tablename__ = "bench_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Event(_Base):
    __tablename__ = "bench_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    row_id: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class RowIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class FloorIn(RowIn):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=32)


class RowOut(BaseModel):
    id: int
    body: str
    created_at: datetime


# The floor's statements, built once as Core statements on the tables (not ORM DML).
_customers, _counters, _rows = Customer.__table__, Counter.__table__, Row.__table__
_head, _events = Head.__table__, Event.__table__
_FIND_CUSTOMER = select(_customers.c.id).where(_customers.c.phone_index == bindparam("index"))
_INSERT_CUSTOMER = insert(_customers).returning(_customers.c.id)
_NEXT_NUMBER = (
    update(_counters)
    .where(_counters.c.id == 1)
    .values(last=_counters.c.last + 1)
    .returning(_counters.c.last)
)
_INSERT_ROW = insert(_rows).returning(_rows.c.id)
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)
_MOVE_HEAD = update(_head).where(_head.c.id == 1)
_INSERT_EVENT = insert(_events)

db = Database.connect(os.environ["DATABASE_URL"])
_INDEX_KEY = os.urandom(32)  # the floor's keyed phone hash, as the app's phone index


@asynccontextmanager
async def lifespan(_app: FastAPI):
    _Base.metadata.create_all(db.write_engine)
    with db.write_engine.begin() as conn:
        for table, row in ((Counter, {"last": 0}), (Head, {"seq": 0, "hash": "0" * 64})):
            if conn.execute(select(table.id).where(table.id == 1)).first() is None:
                conn.execute(insert(table).values(id=1, **row))
    yield
    db.dispose()


app = FastAPI(title="benchmark baseline", lifespan=lifespan)


def read_session() -> Iterator[Session]:
    yield from db.read_session()


def write_session() -> Iterator[Session]:
    yield from db.write_session()


@app.get("/healthz")
def healthz(session: Annotated[Session, Depends(read_session)]) -> dict:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@app.post("/rows", status_code=status.HTTP_201_CREATED)
def create_row(body: RowIn, session: Annotated[Session, Depends(write_session)]) -> RowOut:
    row = Row(body=body.body, created_at=utcnow())
    session.add(row)
    session.commit()
    return RowOut(id=row.id, body=row.body, created_at=row.created_at)


@app.post("/floor", status_code=status.HTTP_201_CREATED)
def create_floor(body: FloorIn, session: Annotated[Session, Depends(write_session)]) -> RowOut:
    """The statements of a ticket create, and nothing else (see the module docstring)."""
    conn = session.connection()
    index = hmac.new(_INDEX_KEY, body.phone.encode(), hashlib.sha256).hexdigest()
    customer = conn.execute(_FIND_CUSTOMER, {"index": index}).scalar()
    if customer is None:
        customer = conn.execute(_INSERT_CUSTOMER, {"phone_index": index, "name": body.name})
        customer = customer.scalar_one()
    number = conn.execute(_NEXT_NUMBER).scalar_one()
    created_at = utcnow()
    row_id = conn.execute(
        _INSERT_ROW, {"body": f"{number}:{body.body}", "created_at": created_at}
    ).scalar_one()
    seq, previous = conn.execute(_READ_HEAD).one()
    digest = hashlib.sha256(f"{previous}|{seq + 1}|{row_id}|{customer}".encode()).hexdigest()
    conn.execute(_MOVE_HEAD, {"seq": seq + 1, "hash": digest})
    conn.execute(_INSERT_EVENT, {"seq": seq + 1, "row_id": row_id, "hash": digest})
    session.commit()
    return RowOut(id=row_id, body=body.body, created_at=created_at)


@app.get("/rows/{row_id}", response_model=None)
def read_row(
    row_id: int, session: Annotated[Session, Depends(read_session)]
) -> RowOut | JSONResponse:
    row = session.get(Row, row_id)
    if row is None:
        return JSONResponse({"detail": "no such row"}, status_code=404)
    return RowOut(id=row.id, body=row.body, created_at=row.created_at)
