"""What the agent console needs of the API (issue #5): canned replies kept by supervisors,
the conversations an agent holds, idempotent agent replies, the live event stream."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import SERVICE_TOKEN

CANNED = "/api/v1/canned-replies"


def test_canned_replies_read_by_agents_kept_by_supervisors(client, make_staff):
    _, agent = make_staff("agent-a", role="agent")
    _, lead = make_staff("lead-a", role="supervisor")
    seeded = client.get(CANNED, headers=agent).json()
    assert {"greeting", "closing"} <= {r["title"] for r in seeded}  # defaults to start with
    assert all(r["zh"] and r["en"] for r in seeded)

    body = {
        "title": "refund",
        "zh": "退款将在3个工作日内到账。",
        "en": "The refund arrives in 3 working days.",
    }
    assert client.post(CANNED, json=body, headers=agent).status_code == 403
    created = client.post(CANNED, json=body, headers=lead)
    assert created.status_code == 201, created.text
    reply_id = created.json()["id"]
    assert client.post(CANNED, json=body, headers=lead).status_code == 409  # same title

    changed = {**body, "en": "The refund arrives within 3 working days."}
    updated = client.put(f"{CANNED}/{reply_id}", json=changed, headers=lead)
    assert updated.json()["en"] == changed["en"]
    assert client.put(f"{CANNED}/{reply_id}", json=changed, headers=agent).status_code == 403
    assert client.put(f"{CANNED}/999999", json=changed, headers=lead).status_code == 404
    assert client.post(CANNED, json={**body, "zh": " "}, headers=lead).status_code == 422

    assert client.delete(f"{CANNED}/{reply_id}", headers=agent).status_code == 403
    assert client.delete(f"{CANNED}/{reply_id}", headers=lead).status_code == 204
    assert reply_id not in {r["id"] for r in client.get(CANNED, headers=agent).json()}


def _waiting(client, service_headers, external_id: str) -> int:
    body = {"channel": "web", "external_id": external_id, "text": "转人工"}
    conversation = client.post("/api/v1/inbound", json=body, headers=service_headers).json()
    conversation_id = conversation["conversation"]["id"]
    handoff = {"reason": "customer_request", "summary": {}}
    client.post(
        f"/api/v1/conversations/{conversation_id}/handoff", json=handoff, headers=service_headers
    ).raise_for_status()
    return conversation_id


def test_mine_lists_the_conversations_an_agent_holds(client, service_headers, make_staff):
    _, agent = make_staff("agent-a")
    _, other = make_staff("agent-b")
    first, second = (_waiting(client, service_headers, f"w-{n}") for n in (1, 2))
    client.post(f"/api/v1/conversations/{first}/claim", headers=agent).raise_for_status()
    client.post(f"/api/v1/conversations/{second}/claim", headers=other).raise_for_status()
    mine = client.get("/api/v1/conversations", params={"mine": True}, headers=agent).json()
    assert [c["id"] for c in mine] == [first]


def test_an_agent_reply_sent_again_is_logged_once(client, service_headers, make_staff):
    _, agent = make_staff("agent-a")
    conversation_id = _waiting(client, service_headers, "w-1")
    client.post(f"/api/v1/conversations/{conversation_id}/claim", headers=agent)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    body = {"text": "您好", "channel_message_id": "console-0001"}
    first = client.post(url, json=body, headers=agent)
    again = client.post(url, json=body, headers=agent)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"id": first.json()["id"], "duplicate": True}


def test_the_console_page_is_served(client):
    page = client.get("/console/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


@pytest.fixture
def ws_base(live_server) -> str:
    return live_server.replace("http://", "ws://")


def test_event_stream_needs_a_staff_login(ws_base):
    for token in ("nonsense", SERVICE_TOKEN):  # a service client is no staff member
        with connect(f"{ws_base}/api/v1/console/events") as socket:
            socket.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(socket.recv(timeout=5))["type"] == "error"


def test_event_stream_shows_the_queue_live_without_channel_ids(live_server, ws_base, make_staff):
    _, agent = make_staff("agent-a")
    token = agent["Authorization"].split()[1]
    with connect(f"{ws_base}/api/v1/console/events") as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=5))["type"] == "ready"
        with httpx.Client(
            base_url=live_server, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}
        ) as api:
            body = {"channel": "telegram", "external_id": "555", "text": "转人工"}
            logged = api.post("/api/v1/inbound", json=body).json()
            conversation_id = logged["conversation"]["id"]
            api.post(
                f"/api/v1/conversations/{conversation_id}/handoff",
                json={"reason": "customer_request", "summary": {}},
            ).raise_for_status()
        message = json.loads(socket.recv(timeout=5))
        change = json.loads(socket.recv(timeout=5))
    assert message["type"] == "message" and message["message_id"] == logged["message_id"]
    assert change["type"] == "conversation" and change["mode"] == "waiting"
    assert "external_id" not in message and "external_id" not in change
