"""Engine, sessions and the declarative base, for SQLite and PostgreSQL alike.

SQLite (the embedded default) runs in WAL mode. Requests that write open their
transaction with `BEGIN IMMEDIATE`, so concurrent writers queue on the database lock
instead of failing when their read snapshot goes stale; read-only requests use
ordinary deferred transactions and run beside the writer. Within one process the
writers first queue on a lock of their own (`_WriterConnection`): SQLite's busy
handler polls with sleeps of up to 100 ms, which leaves the database idle while
writers wait and gave create p95s of over half a second at 16 concurrent requests
(bench/api.py, docs/performance.md); the file lock still guards other processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, Insert, MetaData, Table, Text, create_engine, event, insert
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

from api import crypto

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


M = TypeVar("M", bound=Base)


def insert_loaded(session: Session, model: type[M], **values: Any) -> M:
    """Write one new row with a single Core `INSERT … RETURNING id` and return it as a
    persistent object in `session`, as if just loaded. For the hot write paths: the unit
    of work's flush costs several times the statement (docs/performance.md).

    A column not given is stored as its scalar default or NULL; one with a computed
    default (`default=utcnow`) is read from the database when first accessed.
    """
    row = unset_columns(model.__table__) | values
    return attach_loaded(
        session, model, id=session.execute(_inserting(model.__table__), row).scalar_one(), **row
    )


def attach_loaded(session: Session, model: type[M], **values: Any) -> M:
    """An object of a row just written by a Core statement, persistent in `session` with
    `values` (the primary key among them) as its loaded state.

    The values go straight into the instance's dict: set one by one through the mapped
    attributes (`model(**values)`), each would be recorded as a change and then marked
    loaded again, several times the cost of the rest (docs/performance.md)."""
    unknown = values.keys() - _column_keys(model)
    if unknown:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)  # its attributes now count as loaded, not changed
    session.add(obj)
    return obj


@cache
def _column_keys(model: type[Base]) -> frozenset[str]:
    return frozenset(model.__mapper__.column_attrs.keys())


@cache
def unset_columns(table: Table) -> dict[str, Any]:
    """What a Core INSERT of `table` stores for the columns it is not given: the scalar
    default, or NULL (columns with a computed or server default are left out)."""
    return {
        column.key: None if column.default is None else column.default.arg
        for column in table.columns
        if not column.primary_key
        and column.server_default is None
        and (column.default is None or column.default.is_scalar)
    }


@cache
def _inserting(table: Table) -> Insert:
    return insert(table).returning(table.c.id)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, aware UTC datetimes out (SQLite stores naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Encrypted(TypeDecorator[str]):
    """Text encrypted at rest with the configured keyring (S11.1)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else crypto.encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else crypto.decrypt(value)


BUSY_TIMEOUT = 30  # seconds a writer waits for the database before giving up

_write_locks: dict[str, threading.Lock] = {}


class _WriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions hold the process-wide lock of its
    database file (`write_lock`) from `BEGIN IMMEDIATE` until after COMMIT/ROLLBACK."""

    write_lock: threading.Lock
    holds_lock = False

    def begin_immediate(self) -> None:
        if not self.write_lock.acquire(timeout=BUSY_TIMEOUT):
            raise sqlite3.OperationalError("database is locked (waited for another writer)")
        self.holds_lock = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self.holds_lock:
            self.holds_lock = False
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    connect_args: dict = {"check_same_thread": False, "timeout": BUSY_TIMEOUT}
    if immediate:
        lock = _write_locks.setdefault(url, threading.Lock())
        connect_args["factory"] = type(
            "WriterConnection", (_WriterConnection,), {"write_lock": lock}
        )
    engine = create_engine(url, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if immediate:
            conn.connection.dbapi_connection.begin_immediate()
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


@dataclass
class Database:
    """The engines and session factories of one database URL."""

    url: str
    engine: Engine
    write_engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str) -> Database:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url, immediate=False)
            write_engine = _sqlite_engine(url, immediate=True)
        else:
            engine = write_engine = create_engine(
                url, pool_size=20, max_overflow=20, pool_pre_ping=True
            )
        return cls(
            url=url,
            engine=engine,
            write_engine=write_engine,
            reader=sessionmaker(engine, expire_on_commit=False),
            writer=sessionmaker(write_engine, expire_on_commit=False),
        )

    def read_session(self) -> Iterator[Session]:
        with self.reader() as session:
            yield session

    def write_session(self) -> Iterator[Session]:
        with self.writer() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
