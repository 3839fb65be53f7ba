"""Events queued before a rolled-back savepoint survive; those inside it do not (S11.2)."""

from sqlalchemy import select

from api.actor import SYSTEM
from api.models import Customer, Event
from api.services import audit


def test_savepoint_rollback_keeps_earlier_events(db):
    with db.writer() as session:
        kept = Customer(language="zh")
        session.add(kept)
        session.flush()
        audit.record(session, SYSTEM, "kept", kept)
        savepoint = session.begin_nested()
        dropped = Customer(language="en")
        session.add(dropped)
        session.flush()
        audit.record(session, SYSTEM, "dropped", dropped)
        savepoint.rollback()
        session.commit()
        actions = session.scalars(select(Event.action)).all()
    assert actions == ["kept"]
    with db.reader() as session:
        assert audit.verify(session)["ok"] is True


def test_full_rollback_drops_queued_events(db):
    with db.writer() as session:
        customer = Customer(language="zh")
        session.add(customer)
        session.flush()
        audit.record(session, SYSTEM, "lost", customer)
        session.rollback()
        session.commit()
        assert session.scalars(select(Event.action)).all() == []
