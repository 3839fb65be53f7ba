"""Engine, sessions and the declarative base, for SQLite and PostgreSQL alike.

SQLite (the embedded default) runs in WAL mode. Requests that write open their
transaction with `BEGIN IMMEDIATE`, so concurrent writers queue on the database lock
instead of failing when their read snapshot goes stale; read-only requests use
ordinary deferred transactions and run beside the writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, Text, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
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


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

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
