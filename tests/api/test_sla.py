"""SLA through the API (issue #2 §6): due times in business hours, pause/resume, breach →
escalation visible on the ticket (S5.2, S9.1), the acceptance timeout (S6.4), and the
policy and calendar administration."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from api.actor import Actor
from api.models import Event, Ticket
from api.models.enums import ActorType, Role
from api.services import escalation, jobs, sla, workflow
from tests.api.helpers import act, create_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESOLUTION = {"resolution": "已更换电机 / motor replaced"}


def at(iso: str) -> datetime:
    """A local Asia/Shanghai instant; 2026-11-23 is a Monday."""
    return datetime.fromisoformat(iso).replace(tzinfo=SHANGHAI)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def update_ticket(db, ref: str, **columns) -> None:
    with db.writer() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        for name, value in columns.items():
            setattr(ticket, name, value)
        session.commit()


def events(db, ref: str, action: str) -> list[Event]:
    with db.reader() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.ref == ref))
        return list(
            session.scalars(
                select(Event).where(Event.ticket_id == ticket_id, Event.action == action)
            )
        )


@pytest.fixture
def staff(make_staff) -> Callable[[str], dict]:
    """`staff(role)`: auth headers of a staff member of that role, created on first use."""
    made: dict[str, dict] = {}

    def headers(role: str) -> dict:
        if role not in made:
            made[role] = make_staff(f"sla.{role}", role)[1]
        return made[role]

    return headers


# --- due times ------------------------------------------------------------------------


def test_due_times_are_set_at_creation_in_business_hours(client, db, settings, service_headers):
    """S5.2: each target is the policy's business minutes after creation, on the calendar."""
    with db.reader() as session:
        calendar = sla.load_calendar(session, settings)
    for body, level in (({}, 3), ({"safety": True}, 1), ({"kind": "repair"}, 3)):
        ticket = create_ticket(client, service_headers, **body)
        assert ticket["priority"] == level
        created = parse(ticket["created_at"])
        targets = sla.DEFAULT_POLICIES[ticket["kind"], level]
        for target, minutes in zip(sla.TARGETS, targets, strict=True):
            due = parse(ticket[f"{target}_due_at"])
            assert due == calendar.add_minutes(created, minutes)
            assert ticket["sla"][f"{target}_due_at"] == ticket[f"{target}_due_at"]
            local = due.astimezone(SHANGHAI)
            assert local.weekday() < 5 and "09:00" <= local.strftime("%H:%M") <= "18:00"
        assert ticket["sla"]["paused"] is False and ticket["sla"]["breached"] == []


def test_a_changed_policy_applies_to_new_tickets(client, db, settings, service_headers, staff):
    body = {"acknowledge_minutes": 5, "first_response_minutes": 10, "resolve_minutes": 20}
    response = client.put("/api/v1/sla/policies/complaint/3", json=body, headers=staff("admin"))
    assert response.status_code == 200, response.text
    ticket = create_ticket(client, service_headers)
    with db.reader() as session:
        calendar = sla.load_calendar(session, settings)
    created = parse(ticket["created_at"])
    assert parse(ticket["acknowledge_due_at"]) == calendar.add_minutes(created, 5)
    assert parse(ticket["resolve_due_at"]) == calendar.add_minutes(created, 20)


# --- pause / resume ---------------------------------------------------------------------


def test_pause_and_resume_through_the_api(client, service_headers, staff):
    """The clock pauses while waiting on the customer; pausing twice is refused."""
    ref = create_ticket(client, service_headers)["ref"]
    paused = act(
        client, staff("agent"), ref, "pause", note="等待客户提供发票 / waiting for invoice"
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["sla"]["paused"] is True
    assert "resume" in paused.json()["allowed_actions"]
    again = act(client, staff("agent"), ref, "pause")
    assert again.status_code == 409
    resumed = act(client, staff("agent"), ref, "resume")
    assert resumed.status_code == 200 and resumed.json()["sla"]["paused"] is False
    assert act(client, staff("agent"), ref, "resume").status_code == 409


def test_resume_shifts_unmet_due_times_by_the_paused_business_minutes(
    client, db, settings, service_headers, staff
):
    """Paused Friday 17:00 → Monday 10:00 is 120 business minutes: every unmet due time
    moves on by 120 business minutes; the met acknowledgement does not move."""
    ref = create_ticket(client, service_headers)["ref"]
    assert act(client, staff("agent"), ref, "acknowledge").status_code == 200
    before = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    agent = Actor(ActorType.staff, "1", Role.agent)
    with db.writer() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        workflow.transition(
            session, ticket, "pause", agent, settings=settings, now=at("2026-11-27T17:00")
        )
        assert sla.resume(session, settings, ticket, at("2026-11-30T10:00")) == 120
        session.commit()
    after = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    calendar = sla.BusinessCalendar.from_settings(settings)
    assert after["acknowledge_due_at"] == before["acknowledge_due_at"]
    for target in ("first_response", "resolve"):
        expected = calendar.add_minutes(parse(before[f"{target}_due_at"]), 120)
        assert parse(after[f"{target}_due_at"]) == expected
    assert after["sla"]["paused"] is False


def test_a_paused_ticket_is_not_breached(client, db, settings, service_headers, staff):
    ref = create_ticket(client, service_headers)["ref"]
    assert act(client, staff("agent"), ref, "pause").status_code == 200
    later = datetime.now(UTC) + timedelta(days=60)
    assert escalation.check_breaches(db, settings, later) == []
    assert (
        client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()["sla"]["breached"] == []
    )


# --- breach → escalation (S9.1) ---------------------------------------------------------


def test_breach_escalates_once_and_is_visible_on_the_ticket(client, db, service_headers, staff):
    ticket = create_ticket(client, service_headers)
    ref = ticket["ref"]
    update_ticket(db, ref, acknowledge_due_at=datetime.now(UTC) - timedelta(minutes=1))

    first = client.post("/api/v1/sla/check", headers=staff("supervisor"))
    assert first.status_code == 200, first.text
    breaches = first.json()["breaches"]
    assert [(b["ref"], b["target"]) for b in breaches] == [(ref, "acknowledge")]
    assert breaches[0]["escalation_level"] == 1 and breaches[0]["priority"] == 2

    seen = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    assert seen["sla"]["breached"] == ["acknowledge"]
    assert seen["escalation_level"] == 1 and seen["priority"] == ticket["priority"] - 1
    timeline = client.get(f"/api/v1/tickets/{ref}/timeline", headers=staff("agent")).json()
    escalated = [entry for entry in timeline if entry["action"] == "escalate"]
    assert len(escalated) == 1 and escalated[0]["by"] == "system"
    assert "escalated automatically" in escalated[0]["text"] and "自动升级" in escalated[0]["text"]
    assert [ev.data["target"] for ev in events(db, ref, "sla_breached")] == ["acknowledge"]

    second = client.post("/api/v1/sla/check", headers=staff("supervisor"))
    assert second.json()["breaches"] == []
    seen = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    assert seen["escalation_level"] == 1
    assert client.get("/api/v1/audit/verify", headers=staff("supervisor")).json()["ok"] is True


def test_each_missed_target_escalates_once(client, db, settings, service_headers):
    ref = create_ticket(client, service_headers)["ref"]
    later = datetime.now(UTC) + timedelta(days=60)
    breaches = escalation.check_breaches(db, settings, later)
    assert sorted(b["target"] for b in breaches) == sorted(sla.TARGETS)
    assert escalation.check_breaches(db, settings, later + timedelta(days=1)) == []
    with db.reader() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        assert ticket.escalation_level == 3 and ticket.priority == 1
        assert ticket.acknowledge_breached_at == later


def test_met_targets_and_closed_tickets_are_not_breached(
    client, db, settings, service_headers, staff
):
    acknowledged = create_ticket(client, service_headers)["ref"]
    assert act(client, staff("agent"), acknowledged, "acknowledge").status_code == 200
    cancelled = create_ticket(client, service_headers)["ref"]
    assert (
        act(client, staff("agent"), cancelled, "cancel", note="重复 / duplicate").status_code == 200
    )
    # due in a moment: only the acknowledgement of the first ticket would be late, but it is met
    soon = datetime.now(UTC) + timedelta(minutes=1)
    for ref in (acknowledged, cancelled):
        update_ticket(db, ref, acknowledge_due_at=soon - timedelta(minutes=5))
    assert escalation.check_breaches(db, settings, soon) == []


def test_concurrent_checks_escalate_each_breach_once(client, db, settings, service_headers):
    """Several processes running the job at once: every breach escalates exactly once."""
    refs = [create_ticket(client, service_headers)["ref"] for _ in range(6)]
    past = datetime.now(UTC) - timedelta(minutes=1)
    for ref in refs:
        update_ticket(db, ref, acknowledge_due_at=past)
    now = datetime.now(UTC)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: escalation.check_breaches(db, settings, now), range(4)))
    assert sorted(b["ref"] for run in runs for b in run) == sorted(refs)
    with db.reader() as session:
        levels = session.scalars(select(Ticket.escalation_level).where(Ticket.ref.in_(refs)))
        assert list(levels) == [1] * len(refs)


def test_reopen_gives_a_fresh_resolve_clock(client, db, settings, service_headers, staff):
    ref = create_ticket(client, service_headers)["ref"]
    for action in ("acknowledge", "investigate"):
        assert act(client, staff("agent"), ref, action).status_code == 200
    assert act(client, staff("agent"), ref, "resolve", **RESOLUTION).status_code == 200
    update_ticket(db, ref, resolve_breached_at=datetime.now(UTC))
    reopened_at = at("2026-11-27T17:00")
    with db.writer() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        workflow.transition(
            session,
            ticket,
            "reopen",
            Actor(ActorType.staff, "1", Role.agent),
            settings=settings,
            note="客户不满意",
            now=reopened_at,
        )
        session.commit()
        minutes = sla.targets_for(session, ticket.kind, ticket.priority).resolve
    seen = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    calendar = sla.BusinessCalendar.from_settings(settings)
    assert parse(seen["resolve_due_at"]) == calendar.add_minutes(reopened_at, minutes)
    assert seen["sla"]["breached"] == []


# --- acceptance timeout (S6.4) ----------------------------------------------------------


def resolved_ticket(client, service_headers, agent) -> str:
    ref = create_ticket(client, service_headers)["ref"]
    for action in ("acknowledge", "investigate"):
        assert act(client, agent, ref, action).status_code == 200
    assert act(client, agent, ref, "resolve", **RESOLUTION).status_code == 200
    return ref


def test_resolved_ticket_closes_after_the_acceptance_timeout(
    client, db, settings, service_headers, staff
):
    ref = resolved_ticket(client, service_headers, staff("agent"))
    resolved_at = parse(
        client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()["resolved_at"]
    )
    timeout = timedelta(hours=settings.auto_close_hours)
    assert escalation.auto_close(db, settings, resolved_at + timeout - timedelta(minutes=1)) == []
    closed = escalation.auto_close(db, settings, resolved_at + timeout)
    assert [c["ref"] for c in closed] == [ref]
    seen = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    assert seen["status"] == "closed"
    timeline = client.get(f"/api/v1/tickets/{ref}/timeline", headers=staff("agent")).json()
    note = timeline[-1]
    assert note["action"] == "close" and note["by"] == "system"
    assert "Closed automatically" in note["text"] and "自动关闭" in note["text"]
    assert escalation.auto_close(db, settings, resolved_at + 2 * timeout) == []


def test_check_endpoint_auto_closes_and_requires_a_supervisor(
    client, db, settings, service_headers, staff
):
    ref = resolved_ticket(client, service_headers, staff("agent"))
    update_ticket(
        db, ref, resolved_at=datetime.now(UTC) - timedelta(hours=settings.auto_close_hours + 1)
    )
    assert client.post("/api/v1/sla/check", headers=staff("agent")).status_code == 403
    assert client.post("/api/v1/sla/check", headers=service_headers).status_code == 403
    assert client.post("/api/v1/sla/check").status_code == 401
    response = client.post("/api/v1/sla/check", headers=staff("admin"))
    assert response.status_code == 200
    assert [c["ref"] for c in response.json()["auto_closed"]] == [ref]
    seen = client.get(f"/api/v1/tickets/{ref}", headers=staff("agent")).json()
    assert seen["status"] == "closed"


def test_periodic_jobs_report_counts(client, db, settings, service_headers, staff):

    ref = create_ticket(client, service_headers)["ref"]
    update_ticket(db, ref, acknowledge_due_at=datetime.now(UTC) - timedelta(minutes=1))
    assert jobs.run_periodic_jobs(db, settings) == {"sla_breaches": 1, "auto_closed": 0}


# --- policy administration (S5.2) -------------------------------------------------------


def test_policies_are_listed_for_staff(client, staff, service_headers):
    response = client.get("/api/v1/sla/policies", headers=staff("agent"))
    assert response.status_code == 200
    policies = {(p["kind"], p["priority"]): p for p in response.json()}
    assert len(policies) == len(sla.DEFAULT_POLICIES)
    p1 = policies["complaint", 1]
    assert (p1["acknowledge_minutes"], p1["first_response_minutes"], p1["resolve_minutes"]) == (
        30,
        60,
        480,
    )
    assert client.get("/api/v1/sla/policies", headers=service_headers).status_code == 403
    assert client.get("/api/v1/sla/policies").status_code == 401


def test_admin_sets_a_policy(client, db, staff):
    body = {"acknowledge_minutes": 15, "first_response_minutes": 45, "resolve_minutes": 300}
    response = client.put("/api/v1/sla/policies/recall/1", json=body, headers=staff("admin"))
    assert response.status_code == 200, response.text
    assert response.json() == {"kind": "recall", "priority": 1, **body}
    listed = client.get("/api/v1/sla/policies", headers=staff("agent")).json()
    assert {**body, "kind": "recall", "priority": 1} in listed
    with db.reader() as session:
        changes = session.scalars(select(Event).where(Event.action == "sla_policy_set")).all()
        assert [c.data["to"] for c in changes] == [[15, 45, 300]]
        assert changes[0].data["from"] == list(sla.DEFAULT_POLICIES["recall", 1])


def test_only_an_admin_sets_a_policy(client, staff):
    body = {"acknowledge_minutes": 15, "first_response_minutes": 45, "resolve_minutes": 300}
    for role in ("agent", "supervisor"):
        response = client.put("/api/v1/sla/policies/complaint/1", json=body, headers=staff(role))
        assert response.status_code == 403, role


BAD_POLICIES = [
    ("bogus/1", {}, None),
    ("complaint/0", {}, None),
    ("complaint/5", {}, None),
    ("complaint/x", {}, None),
    ("complaint/1", {"acknowledge_minutes": 0}, None),
    ("complaint/1", {"resolve_minutes": -5}, None),
    ("complaint/1", {"resolve_minutes": 10**9}, None),
    ("complaint/1", {"resolve_minutes": None}, None),
    ("complaint/1", {"acknowledge_minutes": 90}, "acknowledge ≤ first_response ≤ resolve"),
    ("complaint/1", {"first_response_minutes": 600}, "acknowledge ≤ first_response"),
    ("complaint/1", {"surprise": 1}, None),
]


def test_bad_policies_are_422(client, staff):
    full = {"acknowledge_minutes": 30, "first_response_minutes": 60, "resolve_minutes": 480}
    for path, body, message in BAD_POLICIES:
        response = client.put(
            f"/api/v1/sla/policies/{path}", json={**full, **body}, headers=staff("admin")
        )
        assert response.status_code == 422, (path, body, response.text)
        if message:
            assert message in response.json()["detail"]
    listed = client.get("/api/v1/sla/policies", headers=staff("admin")).json()
    assert {"kind": "complaint", "priority": 1, **full} in listed  # unchanged


def test_a_policy_without_a_field_is_422(client, staff):
    body = {"acknowledge_minutes": 30, "first_response_minutes": 60}
    response = client.put("/api/v1/sla/policies/complaint/1", json=body, headers=staff("admin"))
    assert response.status_code == 422


# --- calendar administration ------------------------------------------------------------


def test_calendar_admin_round_trip(client, db, settings, staff):
    empty = client.get("/api/v1/sla/calendar", headers=staff("agent")).json()
    assert empty == {
        "timezone": "Asia/Shanghai",
        "business_hours_start": "09:00:00",
        "business_hours_end": "18:00:00",
        "business_days": ["mon", "tue", "wed", "thu", "fri"],
        "exceptions": [],
    }
    holiday = {"working": False, "note": "国庆节 / National Day"}
    response = client.put("/api/v1/sla/calendar/2026-11-30", json=holiday, headers=staff("admin"))
    assert response.status_code == 200, response.text
    assert response.json() == {"day": "2026-11-30", **holiday}
    saturday = {"working": True, "note": "调休 / make-up working day"}
    assert (
        client.put(
            "/api/v1/sla/calendar/2026-11-28", json=saturday, headers=staff("admin")
        ).status_code
        == 200
    )
    listed = client.get("/api/v1/sla/calendar", headers=staff("agent")).json()["exceptions"]
    assert [d["day"] for d in listed] == ["2026-11-28", "2026-11-30"]

    # the exceptions drive the maths: Friday 17:00 + 180 min → Saturday (working), then
    # Tuesday, because Monday is a holiday
    with db.reader() as session:
        calendar = sla.load_calendar(session, settings)
    assert calendar.add_minutes(at("2026-11-27T17:00"), 120) == at("2026-11-28T10:00")
    assert calendar.add_minutes(at("2026-11-27T17:00"), 660) == at("2026-12-01T10:00")

    # changing an existing day, then removing it
    changed = client.put(
        "/api/v1/sla/calendar/2026-11-30", json={"working": True}, headers=staff("admin")
    )
    assert changed.json() == {"day": "2026-11-30", "working": True, "note": None}
    assert (
        client.delete("/api/v1/sla/calendar/2026-11-30", headers=staff("admin")).status_code == 204
    )
    missing = client.delete("/api/v1/sla/calendar/2026-11-30", headers=staff("admin"))
    assert missing.status_code == 404 and "2026-11-30" in missing.json()["detail"]
    listed = client.get("/api/v1/sla/calendar", headers=staff("agent")).json()["exceptions"]
    assert [d["day"] for d in listed] == ["2026-11-28"]
    assert client.get("/api/v1/audit/verify", headers=staff("supervisor")).json()["ok"] is True
    with db.reader() as session:
        actions = session.scalars(
            select(Event.action).where(Event.subject_type == "calendar_day").order_by(Event.seq)
        ).all()
    assert actions == ["calendar_day_set"] * 3 + ["calendar_day_removed"]


def test_only_an_admin_changes_the_calendar(client, staff):
    body = {"working": False, "note": "holiday"}
    for role in ("agent", "supervisor"):
        headers = staff(role)
        assert (
            client.put("/api/v1/sla/calendar/2026-10-01", json=body, headers=headers).status_code
            == 403
        )
        assert client.delete("/api/v1/sla/calendar/2026-10-01", headers=headers).status_code == 403


def test_calendar_needs_staff(client, service_headers):
    assert client.get("/api/v1/sla/calendar", headers=service_headers).status_code == 403
    assert client.get("/api/v1/sla/calendar").status_code == 401


BAD_DAYS = [
    ("2026-13-01", {"working": False}),
    ("tomorrow", {"working": False}),
    ("2026-10-01", {}),
    ("2026-10-01", {"working": "maybe"}),
    ("2026-10-01", {"working": False, "note": "x" * 201}),
    ("2026-10-01", {"working": False, "colour": "red"}),
]


def test_bad_calendar_input_is_422(client, staff):
    for day, body in BAD_DAYS:
        response = client.put(f"/api/v1/sla/calendar/{day}", json=body, headers=staff("admin"))
        assert response.status_code == 422, (day, body, response.text)
    assert client.get("/api/v1/sla/calendar", headers=staff("agent")).json()["exceptions"] == []
