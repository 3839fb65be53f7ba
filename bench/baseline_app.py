"""The benchmark's baseline: a bare FastAPI app inserting and reading one row.

Same driver and engine setup as the real app (`api.db.Database.connect`: SQLite in WAL
mode with `BEGIN IMMEDIATE` writers, the same PostgreSQL pool), sync endpoints and a
session dependency like the real app's, in the same database (`DATABASE_URL`), with one
table of its own, `bench_rows`. Started by `bench/api.py` as
`uvicorn bench.baseline_app:app`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Integer, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from api.db import Database, UTCDateTime, utcnow


class _Base(DeclarativeBase):
    """Its own metadata: the service desk's schema (`api.db.Base`) is left alone."""


class Row(_Base):
    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RowIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class RowOut(BaseModel):
    id: int
    body: str
    created_at: datetime


db = Database.connect(os.environ["DATABASE_URL"])


@asynccontextmanager
async def lifespan(_app: FastAPI):
    Row.__table__.create(db.write_engine, checkfirst=True)
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


@app.get("/rows/{row_id}", response_model=None)
def read_row(
    row_id: int, session: Annotated[Session, Depends(read_session)]
) -> RowOut | JSONResponse:
    row = session.get(Row, row_id)
    if row is None:
        return JSONResponse({"detail": "no such row"}, status_code=404)
    return RowOut(id=row.id, body=row.body, created_at=row.created_at)
