"""The tamper-evident audit trail (issue #2 §8, S11.2)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.api.helpers import COMPLAINT, act, create_ticket


def _verify(client, headers):
    response = client.get("/api/v1/audit/verify", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _worked_ticket(client, service_headers, supervisor) -> str:
    ref = create_ticket(client, service_headers)["ref"]
    act(client, supervisor, ref, "acknowledge", note="收到")
    act(client, supervisor, ref, "investigate", note="查看安装记录")
    return ref


def test_untouched_chain_verifies(client, service_headers, make_staff):
    _, supervisor = make_staff("auditor", "supervisor")
    _worked_ticket(client, service_headers, supervisor)
    result = _verify(client, supervisor)
    assert result["ok"] is True and result["events"] >= 4


def test_changed_event_data_is_detected(client, service_headers, make_staff, db):
    _, supervisor = make_staff("auditor", "supervisor")
    _worked_ticket(client, service_headers, supervisor)
    with db.writer() as session:
        seq = session.execute(
            text("SELECT seq FROM events WHERE action = 'acknowledge'")
        ).scalar_one()
        session.execute(text("UPDATE events SET actor_id = '999' WHERE seq = :s"), {"s": seq})
        session.commit()
    result = _verify(client, supervisor)
    assert result["ok"] is False
    assert result["first_broken"]["seq"] == seq
    assert "hash" in result["first_broken"]["reason"]


def test_replaced_text_is_detected(client, service_headers, make_staff, db):
    _, supervisor = make_staff("auditor", "supervisor")
    _worked_ticket(client, service_headers, supervisor)
    with db.writer() as session:
        seq, other = session.execute(
            text(
                "SELECT a.seq, b.text FROM events a, events b WHERE a.action = 'acknowledge' "
                "AND b.action = 'investigate'"
            )
        ).one()
        session.execute(text("UPDATE events SET text = :t WHERE seq = :s"), {"t": other, "s": seq})
        session.commit()
    result = _verify(client, supervisor)
    assert result["ok"] is False and result["first_broken"]["seq"] == seq


def test_deleted_event_is_detected(client, service_headers, make_staff, db):
    _, supervisor = make_staff("auditor", "supervisor")
    _worked_ticket(client, service_headers, supervisor)
    with db.writer() as session:
        seq = session.execute(
            text("SELECT seq FROM events WHERE action = 'acknowledge'")
        ).scalar_one()
        session.execute(text("DELETE FROM events WHERE seq = :s"), {"s": seq})
        session.commit()
    result = _verify(client, supervisor)
    assert result["ok"] is False and result["first_broken"]["seq"] == seq


def test_truncated_tail_is_detected(client, service_headers, make_staff, db):
    _, supervisor = make_staff("auditor", "supervisor")
    _worked_ticket(client, service_headers, supervisor)
    with db.writer() as session:
        last = session.execute(text("SELECT max(seq) FROM events")).scalar_one()
        session.execute(text("DELETE FROM events WHERE seq = :s"), {"s": last})
        session.commit()
    result = _verify(client, supervisor)
    assert result["ok"] is False and "removed" in result["first_broken"]["reason"]


def test_only_supervisors_verify(client, service_headers, make_staff):
    _, agent = make_staff("agent", "agent")
    assert client.get("/api/v1/audit/verify", headers=agent).status_code == 403
    assert client.get("/api/v1/audit/verify", headers=service_headers).status_code == 403


def test_a_failed_append_rolls_the_whole_write_back(client, service_headers, make_staff, db):
    """The events are written with the COMMIT (on PostgreSQL in one round trip): when
    that fails, nothing of the request is kept and the next write works."""
    _, supervisor = make_staff("auditor", "supervisor")
    create_ticket(client, service_headers)
    with db.writer() as session:  # the head one event behind: the next seq is taken
        session.execute(text("UPDATE audit_head SET seq = seq - 1"))
        session.commit()
    with db.reader() as session:
        tickets_before = session.execute(text("SELECT count(*) FROM tickets")).scalar_one()
    with pytest.raises(IntegrityError):
        client.post("/api/v1/tickets", json=COMPLAINT, headers=service_headers)
    with db.reader() as session:
        assert session.execute(text("SELECT count(*) FROM tickets")).scalar_one() == tickets_before
    with db.writer() as session:
        session.execute(text("UPDATE audit_head SET seq = seq + 1"))
        session.commit()
    for _ in range(3):  # the pool's connections are usable again
        create_ticket(client, service_headers)
    assert _verify(client, supervisor)["ok"] is True
