"""The hash-chained event log (S11.2): record, chain on commit, verify.

Services call `record()`; the events are chained and written when the session
commits, under a lock on the single `audit_head` row, so concurrent transactions
append one after another and the lock is held only for the final inserts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Text, insert, select, type_coerce, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, defer

from api import crypto
from api.actor import Actor
from api.db import utcnow
from api.models import AuditHead, Customer, Event

GENESIS = "0" * 64
_PENDING = "audit_pending"
_MARKS = "audit_savepoints"
_LOCKED = "audit_locked_head"


@dataclass
class _Pending:
    occurred_at: datetime
    actor: Actor
    action: str
    subject_type: str
    subject_id: int | None
    subject: Any = None  # an ORM object whose id is known only after flush
    ticket: Any = None
    customer_id: int | None = None
    data: dict = field(default_factory=dict)
    text: str | None = None
    public: bool = False


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: Any,
    *,
    ticket: Any = None,
    customer_id: int | None = None,
    data: dict | None = None,
    text: str | None = None,
    public: bool = False,
) -> None:
    """Queue an event about `subject` (an ORM object); it is written on commit.

    `data` must hold no personal data: it is hashed in the clear. Free text goes in
    `text` (encrypted at rest, covered by its digest).
    """
    session.info.setdefault(_PENDING, []).append(
        _Pending(
            occurred_at=utcnow(),
            actor=actor,
            action=action,
            subject_type=_snake(type(subject).__name__),
            subject_id=None,
            subject=subject,
            ticket=ticket,
            customer_id=customer_id,
            data=data or {},
            text=text,
            public=public,
        )
    )


def _snake(name: str) -> str:
    """SlaPolicy -> sla_policy."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def event_hash(prev_hash: str, ev: Event) -> str:
    body = {
        "seq": ev.seq,
        "at": ev.occurred_at.isoformat(timespec="microseconds"),
        "actor": [ev.actor_type, ev.actor_id],
        "subject": [ev.subject_type, ev.subject_id],
        "ticket": ev.ticket_id,
        "customer": ev.customer_id,
        "action": ev.action,
        "public": ev.public,
        "data": ev.data,
        "text": ev.text_digest,
    }
    return crypto.digest(prev_hash + json.dumps(body, sort_keys=True, ensure_ascii=False))


def _text_digest(text: str | None) -> str | None:
    # keyed, so a short text (a phone number) cannot be guessed from its digest
    return None if text is None else crypto.blind_index(text)


_HEAD = AuditHead.__table__
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)
_APPEND = insert(Event.__table__)
_EVENT_COLUMNS = [column for column in Event.__table__.columns if not column.primary_key]


@cache
def _move_and_append(count: int) -> str:
    """PostgreSQL: the head moved and `count` events inserted by one statement (the UPDATE
    in a data-modifying CTE), for psycopg directly (`_append_and_commit`)."""
    names = ", ".join(column.name for column in _EVENT_COLUMNS)
    row = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    return (
        "WITH moved_head AS (UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1)"
        f" INSERT INTO events ({names}) VALUES {', '.join([row] * count)}"
    )


def _stored(key: str, value: Any) -> Any:
    """An event field as the column stores it (what `Event`'s column types do)."""
    if value is None:
        return None
    if key == "text":
        return crypto.encrypt(value)
    if key == "data":
        return Json(value)
    if key == "occurred_at":
        return value.astimezone(UTC)
    return value


def _append_and_commit(session: Session, seq: int, head_hash: str, rows: list[dict]) -> None:
    """PostgreSQL: move the head, insert the events and COMMIT in one round trip
    (psycopg's pipeline mode), the last statements of the transaction. While the head
    is locked every writer of the chain waits, so this is the section to keep short;
    SQLAlchemy's own COMMIT that follows finds the transaction ended and sends nothing.
    A failure is raised as SQLAlchemy's exception (an IntegrityError is one), and the
    session rolls back as for any failed commit."""
    raw = session.connection().connection.dbapi_connection
    statement = _move_and_append(len(rows))
    params = [seq, head_hash]
    for row in rows:
        params.extend(_stored(column.key, row[column.key]) for column in _EVENT_COLUMNS)
    try:
        with raw.pipeline():
            raw.execute(statement, params)
            raw.commit()
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, params, error, psycopg.Error) from error


@sa_event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Chain and write the queued events: Core statements on the head row and the events
    table (the unit of work is not needed for rows that are only inserted)."""
    locked = session.info.pop(_LOCKED, None)
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # subjects get their ids
    head = locked if locked is not None else session.execute(_LOCK_HEAD).one_or_none()
    seq, prev = head if head is not None else (0, GENESIS)
    rows = []
    for item in pending:
        seq += 1
        row = {
            "seq": seq,
            "occurred_at": item.occurred_at,
            "actor_type": item.actor.type.value,
            "actor_id": item.actor.id,
            "subject_type": item.subject_type,
            "subject_id": item.subject.id,
            "ticket_id": item.ticket.id if item.ticket is not None else None,
            "customer_id": item.customer_id,
            "action": item.action,
            "public": item.public,
            "data": item.data,
            "text": item.text,
            "text_digest": _text_digest(item.text),
            "prev_hash": prev,
        }
        # hashed from the same fields as verify() reads from the stored Event
        row["hash"] = prev = event_hash(prev, SimpleNamespace(**row))
        rows.append(row)
    if head is None:
        session.execute(insert(_HEAD), {"id": 1, "seq": seq, "hash": prev})
    elif _commits_the_database(session):
        _append_and_commit(session, seq, prev, rows)
        return
    else:
        session.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    session.execute(_APPEND, rows)


def _commits_the_database(session: Session) -> bool:
    """PostgreSQL, and this is the commit of the database transaction: not a savepoint's
    (before_commit runs for those too), not inside a transaction of the caller's."""
    if session.get_bind().dialect.name != "postgresql" or session.in_nested_transaction():
        return False
    connection = session.connection()
    return not connection.in_nested_transaction() and session.get_transaction().parent is None


def adopt_locked_head(session: Session, head: tuple[int, str]) -> None:
    """`head` (seq, hash) was just read with the head row locked (`FOR UPDATE`) by a
    statement of this transaction (references.insert_numbered): the commit chains the
    events onto it without locking and reading the row again. Forgotten when any
    transaction or savepoint of the session ends (a rolled-back savepoint releases the
    lock if it was taken inside it), so the commit then locks and reads the row itself."""
    session.info[_LOCKED] = head


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_locked_head(session: Session, transaction) -> None:
    if transaction.nested or transaction.parent is None:  # not a flush's subtransaction
        session.info.pop(_LOCKED, None)  # the transaction or a savepoint ended: lock again


@sa_event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(session.info.get(_PENDING, []))


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    """A rolled-back savepoint drops only the events queued inside it; a full
    rollback drops them all."""
    marks = session.info.get(_MARKS, {})
    if previous_transaction.nested:
        mark = marks.pop(id(previous_transaction), None)
        if mark is not None and _PENDING in session.info:
            del session.info[_PENDING][mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        marks.clear()


_RAW_TEXT = type_coerce(Event.__table__.c.text, Text())


def _events(session: Session, batch: int = 1000) -> Iterator[tuple[Event, str | None]]:
    """Events in chain order with their raw (still encrypted) text."""
    last = 0
    while True:
        rows = session.execute(
            select(Event, _RAW_TEXT)
            .options(defer(Event.text))
            .where(Event.seq > last)
            .order_by(Event.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0].seq
        session.expunge_all()


def _text_problem(ev: Event, raw: str | None, erased: set[int]) -> str | None:
    if raw is None:
        if ev.text_digest and ev.customer_id not in erased:
            return "text removed, but its customer was not erased"
        return None
    try:
        text = crypto.decrypt(raw)
    except ValueError:
        return "text was altered (it no longer decrypts)"
    return None if crypto.blind_index(text) == ev.text_digest else "text does not match its digest"


def verify(session: Session) -> dict:
    """Recompute the chain; name the first event that does not match."""
    erased = set(session.scalars(select(Customer.id).where(Customer.erased_at.is_not(None))))
    prev, count, expected_seq = GENESIS, 0, 1
    for ev, raw_text in _events(session):
        problem = None
        if ev.seq != expected_seq:
            problem = f"event {expected_seq} is missing"
        elif ev.prev_hash != prev:
            problem = "prev_hash does not match the previous event"
        elif event_hash(prev, ev) != ev.hash:
            problem = "hash does not match the event's contents"
        else:
            problem = _text_problem(ev, raw_text, erased)
        if problem:
            return {
                "ok": False,
                "events": count,
                "first_broken": {"seq": expected_seq, "id": ev.id, "reason": problem},
            }
        prev, count, expected_seq = ev.hash, count + 1, expected_seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return {
            "ok": False,
            "events": count,
            "first_broken": {
                "seq": count + 1,
                "id": None,
                "reason": "events after this point were removed",
            },
        }
    return {"ok": True, "events": count}
