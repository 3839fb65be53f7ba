"""Staff availability and administration (S5.4 qualifications, S10.1; roles per issue #2 §10)."""

from __future__ import annotations

from sqlalchemy import select

from api.models import Event
from tests.conftest import PASSWORD

STAFF = "/api/v1/staff"


def login(client, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_availability(client, make_staff, db):
    _, headers = make_staff("li.lei")
    url = f"{STAFF}/me/availability"
    assert client.get("/api/v1/auth/me", headers=headers).json()["available"] is False
    response = client.put(url, json={"available": True}, headers=headers)
    assert response.status_code == 200 and response.json()["available"] is True
    assert client.get("/api/v1/auth/me", headers=headers).json()["available"] is True
    assert client.put(url, json={"available": "maybe"}, headers=headers).status_code == 422
    assert client.put(url, json={}, headers=headers).status_code == 422
    with db.reader() as session:
        events = session.scalars(select(Event).where(Event.action == "availability_changed"))
        assert [e.data for e in events] == [{"available": True}]


def test_admin_creates_staff_who_can_log_in(client, make_staff):
    """S5.4: staff are created with their qualifications."""
    _, admin = make_staff("root", "admin")
    body = {
        "username": "han.mei",
        "password": "s3cret-enough",
        "role": "agent",
        "display_name": "韩梅",
        "team": "north",
        "skills": ["repair", "installation"],
    }
    response = client.post(STAFF, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["skills"] == ["repair", "installation"] and created["team"] == "north"
    assert created["active"] is True and created["available"] is False
    assert "password" not in response.text and "password_hash" not in created
    assert login(client, "han.mei", "s3cret-enough").status_code == 200
    assert client.post(STAFF, json=body, headers=admin).status_code == 409
    short = {**body, "username": "short.pw", "password": "1234567"}
    response = client.post(STAFF, json=short, headers=admin)
    assert response.status_code == 422 and "at least 8" in response.json()["detail"]


def test_list_staff(client, make_staff):
    _, supervisor = make_staff("boss", "supervisor", team="north")
    make_staff("li.lei", team="north")
    make_staff("wang.fang", team="south")
    everyone = client.get(STAFF, headers=supervisor).json()
    assert [s["username"] for s in everyone] == ["boss", "li.lei", "wang.fang"]
    north = client.get(STAFF, params={"team": "north"}, headers=supervisor).json()
    assert {s["username"] for s in north} == {"boss", "li.lei"}


def test_admin_updates_and_deactivates(client, make_staff, service_headers):
    _, admin = make_staff("root", "admin")
    agent_id, agent = make_staff("li.lei", skills=["inquiry"])
    url = f"{STAFF}/{agent_id}"
    response = client.patch(url, json={"role": "supervisor", "skills": ["*"]}, headers=admin)
    assert response.status_code == 200
    assert response.json()["role"] == "supervisor" and response.json()["skills"] == ["*"]
    assert client.get(STAFF, headers=agent).status_code == 200  # now a supervisor

    # deactivation: no more access, and the conversations held go back to the queue
    conv = client.post(
        "/api/v1/conversations",
        json={"channel": "web", "external_id": "w"},
        headers=service_headers,
    ).json()
    client.post(
        f"/api/v1/conversations/{conv['id']}/handoff",
        json={"reason": "customer_request", "summary": {}},
        headers=service_headers,
    )
    assert (
        client.post(f"/api/v1/conversations/{conv['id']}/claim", headers=agent).status_code == 200
    )
    response = client.patch(url, json={"active": False}, headers=admin)
    assert response.status_code == 200 and response.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers=agent).status_code == 401
    assert login(client, "li.lei").status_code == 401
    requeued = client.get(f"/api/v1/conversations/{conv['id']}", headers=admin).json()
    assert requeued["mode"] == "waiting" and requeued["agent_id"] is None


def test_admin_cannot_lock_themselves_out(client, make_staff):
    admin_id, admin = make_staff("root", "admin")
    url = f"{STAFF}/{admin_id}"
    assert client.patch(url, json={"active": False}, headers=admin).status_code == 409
    assert client.patch(url, json={"role": "agent"}, headers=admin).status_code == 409
    assert client.patch(url, json={"team": "hq"}, headers=admin).json()["team"] == "hq"


def test_bad_input(client, make_staff):
    _, admin = make_staff("root", "admin")
    agent_id, _ = make_staff("li.lei")
    good = {"username": "new.one", "password": "long-enough-1"}
    for body in [
        {**good, "role": "janitor"},
        {**good, "skills": ["cooking"]},
        {**good, "username": "has space"},
        {**good, "username": ""},
        {"username": "x.y"},
        {**good, "extra": 1},
    ]:
        assert client.post(STAFF, json=body, headers=admin).status_code == 422, body
    url = f"{STAFF}/{agent_id}"
    for body in [{"role": None}, {"active": None}, {"skills": None}, {"skills": ["nope"]}]:
        assert client.patch(url, json=body, headers=admin).status_code == 422, body
    assert client.patch(f"{STAFF}/9999", json={"team": "x"}, headers=admin).status_code == 404
    assert client.patch(f"{STAFF}/abc", json={"team": "x"}, headers=admin).status_code == 422


def test_role_boundaries(client, make_staff, service_headers):
    agent_id, agent = make_staff("li.lei")
    _, supervisor = make_staff("boss", "supervisor")
    body = {"username": "new.one", "password": "long-enough-1"}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        assert client.get(STAFF, headers=headers).status_code == 401
        assert client.post(STAFF, json=body, headers=headers).status_code == 401
    assert client.get(STAFF, headers=agent).status_code == 403
    assert client.get(STAFF, headers=service_headers).status_code == 403
    for headers in (agent, supervisor, service_headers):
        assert client.post(STAFF, json=body, headers=headers).status_code == 403
        patch = client.patch(f"{STAFF}/{agent_id}", json={"skills": ["*"]}, headers=headers)
        assert patch.status_code == 403
    availability = {"available": True}
    response = client.put(f"{STAFF}/me/availability", json=availability, headers=service_headers)
    assert response.status_code == 403
