"""Tickets: creation contract, references, idempotency, priority, fairness, feedback,
listing and bad input (issue #2 §3, §7, §11; S4.6, S5.2, S9.2)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from api.models import Ticket, TicketCounter
from tests.api.helpers import COMPLAINT, act, create_ticket

REF = re.compile(r"^CS-\d{8}-\d{4,}$")


def _resolve(client, staff, ref, kind="complaint"):
    steps = (
        ["acknowledge", "investigate", "resolve"]
        if kind == "complaint"
        else ["acknowledge", "schedule", "start", "resolve"]
    )
    for step in steps:
        assert act(client, staff, ref, step, resolution="已处理 / fixed").status_code == 200


@pytest.fixture
def supervisor(make_staff):
    return make_staff("zhang.wei", "supervisor")[1]


def test_contract_body_creates_a_received_ticket(client, service_headers):
    response = client.post("/api/v1/tickets", json=COMPLAINT, headers=service_headers)
    assert response.status_code == 201
    body = response.json()
    assert REF.match(body["ref"]) and body["status"] == "received"
    assert body["kind"] == "complaint" and body["priority"] == 3
    assert body["acknowledge_due_at"] and body["resolve_due_at"]  # S5.2 targets
    assert body["next_step"]["zh"] and body["next_step"]["en"]
    again = client.get(f"/api/v1/tickets/{body['ref']}", headers=service_headers).json()
    assert again["ref"] == body["ref"] and again["description"] == COMPLAINT["description"]


def test_references_are_sequential_per_day(client, service_headers):
    refs = [create_ticket(client, service_headers)["ref"] for _ in range(3)]
    numbers = [int(r.rsplit("-", 1)[1]) for r in refs]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    assert len({r.rsplit("-", 1)[0] for r in refs}) == 1


def test_the_days_ten_thousandth_reference_has_five_digits(client, service_headers, db):
    day = create_ticket(client, service_headers)["ref"].split("-")[1]
    with db.writer() as session:
        session.execute(update(TicketCounter).where(TicketCounter.day == day).values(last=9998))
        session.commit()
    refs = [create_ticket(client, service_headers)["ref"] for _ in range(2)]
    assert refs == [f"CS-{day}-9999", f"CS-{day}-10000"]


def test_idempotent_retry_returns_the_same_ticket(client, service_headers, db):
    headers = {**service_headers, "Idempotency-Key": "bot-conv-42-turn-7"}
    first = client.post("/api/v1/tickets", json=COMPLAINT, headers=headers)
    second = client.post("/api/v1/tickets", json=COMPLAINT, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["ref"] == second.json()["ref"]
    assert second.headers["Idempotent-Replayed"] == "true"
    with db.reader() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 1


def test_idempotency_key_reused_for_another_request_is_422(client, service_headers):
    headers = {**service_headers, "Idempotency-Key": "k-1"}
    client.post("/api/v1/tickets", json=COMPLAINT, headers=headers)
    other = {**COMPLAINT, "description": "另一个问题"}
    response = client.post("/api/v1/tickets", json=other, headers=headers)
    assert response.status_code == 422 and "Idempotency-Key" in response.json()["detail"]


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [(1, 1, 1), (1, 3, 3), (2, 2, 3), (3, 1, 3), (3, 3, 4), (2, 1, 2)],
)
def test_priority_from_impact_and_urgency(client, service_headers, impact, urgency, expected):
    ticket = create_ticket(client, service_headers, impact=impact, urgency=urgency)
    assert ticket["priority"] == expected and ticket["safety"] is False


@pytest.mark.parametrize(
    "description", ["热水器有燃气泄漏的味道", "The socket gave sparks and smoke"]
)
def test_safety_reports_are_top_priority(client, service_headers, description):
    ticket = create_ticket(client, service_headers, description=description, impact=3, urgency=3)
    assert ticket["safety"] is True and ticket["priority"] == 1


def test_explicit_safety_flag(client, service_headers):
    assert create_ticket(client, service_headers, safety=True, impact=3)["priority"] == 1


def test_fairness_complaint_about_staff_never_goes_to_them(client, service_headers, make_staff):
    """S9.2: the staff member complained about never handles that complaint."""
    li_id, li = make_staff("li.technician", "agent")
    boss_id, boss = make_staff("boss", "supervisor")
    ref = create_ticket(client, service_headers, about_staff_id=li_id)["ref"]
    response = client.post(f"/api/v1/tickets/{ref}/assign", json={"staff_id": li_id}, headers=boss)
    assert response.status_code == 403 and "S9.2" in response.json()["detail"]
    response = client.post(f"/api/v1/tickets/{ref}/assign", json={"staff_id": li_id}, headers=li)
    assert response.status_code == 403
    ok = client.post(f"/api/v1/tickets/{ref}/assign", json={"staff_id": boss_id}, headers=boss)
    assert ok.status_code == 200 and ok.json()["assignee_id"] == boss_id


def test_assignment_needs_qualification(client, service_headers, make_staff):
    """S5.4 / S7.2: only staff trained for the kind may take it."""
    installer_id, _ = make_staff("installer", "agent", skills=["installation"])
    _, boss = make_staff("boss", "supervisor")
    ref = create_ticket(client, service_headers, kind="repair")["ref"]
    response = client.post(
        f"/api/v1/tickets/{ref}/assign", json={"staff_id": installer_id}, headers=boss
    )
    assert response.status_code == 403 and "qualified" in response.json()["detail"]


def test_agents_assign_only_themselves(client, service_headers, make_staff):
    a_id, a = make_staff("agent.a", "agent")
    b_id, _ = make_staff("agent.b", "agent")
    ref = create_ticket(client, service_headers)["ref"]
    assert (
        client.post(f"/api/v1/tickets/{ref}/assign", json={"staff_id": b_id}, headers=a).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/tickets/{ref}/assign", json={"staff_id": a_id}, headers=a).json()[
            "assignee_id"
        ]
        == a_id
    )


def test_about_staff_must_exist(client, service_headers):
    response = client.post(
        "/api/v1/tickets", json={**COMPLAINT, "about_staff_id": 999}, headers=service_headers
    )
    assert response.status_code == 422


def test_good_rating_is_acceptance_and_closes(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    _resolve(client, supervisor, ref)
    response = client.post(
        f"/api/v1/tickets/{ref}/feedback",
        json={"rating": 5, "comment": "很满意"},
        headers=service_headers,
    )
    assert response.status_code == 201
    assert response.json() == {
        "ref": ref,
        "status": "closed",
        "rating": 5,
        "reopened": False,
        "escalated": False,
    }
    ticket = client.get(f"/api/v1/tickets/{ref}", headers=supervisor).json()
    assert ticket["feedback"]["rating"] == 5 and ticket["closed_at"]


def test_low_rating_reopens_and_escalates(client, service_headers, supervisor):
    """S9.2: a score ≤ 2 reopens and escalates the ticket."""
    ref = create_ticket(client, service_headers, kind="repair")["ref"]
    _resolve(client, supervisor, ref, kind="repair")
    body = client.post(
        f"/api/v1/tickets/{ref}/feedback", json={"rating": 2}, headers=service_headers
    ).json()
    assert body["reopened"] and body["escalated"] and body["status"] == "acknowledged"
    ticket = client.get(f"/api/v1/tickets/{ref}", headers=supervisor).json()
    assert ticket["escalation_level"] == 1 and ticket["reopen_count"] == 1


def test_second_rating_is_409(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    _resolve(client, supervisor, ref)
    client.post(f"/api/v1/tickets/{ref}/feedback", json={"rating": 4}, headers=service_headers)
    response = client.post(
        f"/api/v1/tickets/{ref}/feedback", json={"rating": 5}, headers=service_headers
    )
    assert response.status_code == 409 and "already" in response.json()["detail"]


def test_rating_before_resolution_is_409(client, service_headers):
    ref = create_ticket(client, service_headers)["ref"]
    response = client.post(
        f"/api/v1/tickets/{ref}/feedback", json={"rating": 4}, headers=service_headers
    )
    assert response.status_code == 409


@pytest.mark.parametrize("rating", [0, 6, "five", None])
def test_rating_out_of_range_is_422(client, service_headers, supervisor, rating):
    ref = create_ticket(client, service_headers)["ref"]
    response = client.post(
        f"/api/v1/tickets/{ref}/feedback", json={"rating": rating}, headers=service_headers
    )
    assert response.status_code == 422


def test_list_filters(client, service_headers, supervisor):
    create_ticket(client, service_headers)
    create_ticket(client, service_headers, kind="repair", impact=1, urgency=1)
    page = client.get("/api/v1/tickets", params={"kind": "repair"}, headers=supervisor).json()
    assert page["total"] == 1 and page["items"][0]["kind"] == "repair"
    page = client.get(
        "/api/v1/tickets", params={"status": ["received", "acknowledged"]}, headers=supervisor
    ).json()
    assert page["total"] == 2 and page["items"][0]["priority"] == 1  # most urgent first
    bad = client.get("/api/v1/tickets", params={"status": "lost"}, headers=supervisor)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**COMPLAINT, "kind": "praise"},
        {**COMPLAINT, "description": ""},
        {**COMPLAINT, "description": "x" * 5000},
        {**COMPLAINT, "customer": {"name": "王", "phone": "12345"}},
        {**COMPLAINT, "customer": {"name": "王"}},
        {**COMPLAINT, "impact": 9},
        {**COMPLAINT, "purchase_date": "2999-01-01"},
        {**COMPLAINT, "unexpected": True},
    ],
)
def test_bad_creation_bodies_are_422(client, service_headers, body):
    response = client.post("/api/v1/tickets", json=body, headers=service_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_malformed_json_is_422(client, service_headers):
    response = client.post(
        "/api/v1/tickets",
        content=b"{not json",
        headers={**service_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_oversized_body_is_413(client, service_headers):
    big = {**COMPLAINT, "description": "很" * 100_000}
    response = client.post("/api/v1/tickets", json=big, headers=service_headers)
    assert response.status_code == 413 and "larger" in response.json()["detail"]


def test_nothing_customer_related_is_public(client, service_headers):
    ref = create_ticket(client, service_headers)["ref"]
    for method, path in [
        ("get", f"/api/v1/tickets/{ref}"),
        ("get", "/api/v1/tickets"),
        ("post", "/api/v1/tickets"),
        ("get", f"/api/v1/tickets/{ref}/timeline"),
        ("get", "/api/v1/audit/verify"),
    ]:
        assert getattr(client, method)(path).status_code == 401, path


def test_same_phone_is_one_customer_across_channels(client, service_headers, supervisor):
    """S5.5: web and Telegram contacts with the same phone share one profile."""
    a = create_ticket(client, service_headers, channel="web")
    b = create_ticket(
        client,
        service_headers,
        channel="telegram",
        external_id="tg-777",
        customer={"name": "王小明", "phone": "+86 138 0013 8000"},
    )
    assert a["customer"]["id"] == b["customer"]["id"]
    assert sorted(b["customer"]["channels"]) == ["telegram"]
