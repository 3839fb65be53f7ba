"""What the gateway needs of the API (issue #4): one call per inbound message, the bot's
replies logged in one call, delivery reports, and events on the bus after commit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api import bus
from api.actor import SERVICE
from api.services import conversations

INBOUND = "/api/v1/inbound"


class RecordingBus:
    """A bus that keeps what was published."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def publish(self, event: dict) -> None:
        self.events.append(event)


@pytest.fixture
def published(client) -> Iterator[list[dict]]:
    previous = bus.current()
    recorder = RecordingBus()
    bus.configure(recorder)
    yield recorder.events
    bus.configure(previous)


def say(client, headers, text: str, message_id: str, external_id: str = "chat-1"):
    body = {
        "channel": "telegram",
        "external_id": external_id,
        "text": text,
        "channel_message_id": message_id,
        "language": "zh",
    }
    return client.post(INBOUND, json=body, headers=headers)


def test_inbound_opens_the_conversation_and_logs_the_message_once(client, service_headers):
    first = say(client, service_headers, "你好", "update-1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["duplicate"] is False
    assert body["conversation"]["mode"] == "bot"
    assert body["conversation"]["channel"] == "telegram"
    assert body["conversation"]["customer_id"] is not None  # one profile (S5.5)

    again = say(client, service_headers, "你好", "update-1")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["message_id"] == body["message_id"]
    assert again.json()["conversation"]["id"] == body["conversation"]["id"]

    log = client.get(
        f"/api/v1/conversations/{body['conversation']['id']}/messages", headers=service_headers
    ).json()
    assert [(m["direction"], m["sender"], m["text"]) for m in log] == [("in", "customer", "你好")]


def test_inbound_is_for_service_clients_and_checks_its_input(client, service_headers, make_staff):
    _, staff = make_staff("agent-a")
    assert say(client, staff, "hi", "u-1").status_code == 403
    assert say(client, {}, "hi", "u-1").status_code == 401
    body = {"channel": "fax", "external_id": "1", "text": "hi"}
    assert client.post(INBOUND, json=body, headers=service_headers).status_code == 422
    empty = {"channel": "web", "external_id": "1"}
    response = client.post(INBOUND, json=empty, headers=service_headers)
    assert response.status_code == 422
    assert "text or a payload" in response.json()["detail"]


def test_bot_replies_logged_in_order_and_marked_delivered(client, service_headers):
    conversation = say(client, service_headers, "hello", "u-1").json()["conversation"]
    base = f"/api/v1/conversations/{conversation['id']}"
    replies = [
        {"text": "Hello!"},
        {"text": "How can I help?", "payload": {"buttons": [{"title": "Repair", "payload": "/r"}]}},
    ]
    logged = client.post(f"{base}/outbound", json={"messages": replies}, headers=service_headers)
    assert logged.status_code == 201, logged.text
    ids = [m["id"] for m in logged.json()]
    assert ids == sorted(ids) and len(ids) == 2

    log = client.get(f"{base}/messages", headers=service_headers).json()
    assert [m["text"] for m in log] == ["hello", "Hello!", "How can I help?"]
    assert log[2]["payload"]["buttons"][0]["payload"] == "/r"
    assert log[0]["delivered_at"] is None  # inbound
    assert all(m["delivered_at"] for m in log[1:])  # the gateway sent them itself


def test_undelivered_until_a_gateway_reports_it(client, service_headers):
    conversation = say(client, service_headers, "hello", "u-1").json()["conversation"]
    base = f"/api/v1/conversations/{conversation['id']}"
    body = {"messages": [{"text": "after the handoff"}], "delivered": False}
    [logged] = client.post(f"{base}/outbound", json=body, headers=service_headers).json()
    log = client.get(f"{base}/messages", headers=service_headers).json()
    assert log[-1]["delivered_at"] is None

    marked = client.post(f"{base}/messages/{logged['id']}/delivered", headers=service_headers)
    assert marked.status_code == 200
    first = marked.json()["delivered_at"]
    assert first is not None
    again = client.post(f"{base}/messages/{logged['id']}/delivered", headers=service_headers)
    assert again.json()["delivered_at"] == first  # the first report counts

    inbound_id = log[0]["id"]
    refused = client.post(f"{base}/messages/{inbound_id}/delivered", headers=service_headers)
    assert refused.status_code == 422
    other = client.post(f"/api/v1/conversations/999999/messages/{logged['id']}/delivered",
                        headers=service_headers)  # fmt: skip
    assert other.status_code == 404


def test_events_published_after_commit(client, service_headers, published):
    logged = say(client, service_headers, "转人工", "u-1").json()
    conversation_id = logged["conversation"]["id"]
    assert published[-1] == {
        "type": "message",
        "conversation_id": conversation_id,
        "channel": "telegram",
        "external_id": "chat-1",
        "message_id": logged["message_id"],
        "direction": "in",
        "sender": "customer",
        "delivered": False,
    }
    say(client, service_headers, "转人工", "u-1")  # a redelivery: nothing new
    assert len(published) == 1

    handoff = {"reason": "customer_request", "summary": {}}
    client.post(
        f"/api/v1/conversations/{conversation_id}/handoff", json=handoff, headers=service_headers
    )
    change = published[-1]
    assert change["type"] == "conversation"
    assert (change["previous_mode"], change["mode"]) == ("bot", "waiting")


def test_nothing_published_for_a_rolled_back_transaction(db, client, published):
    with db.writer() as session:
        conversation, _ = conversations.open_conversation(session, SERVICE, "web", "w-1")
        conversations.log_message(
            session, conversation, direction="in", sender="customer", text="hi"
        )
        session.rollback()
    assert published == []


def test_a_ticket_opened_in_a_conversation_becomes_its_ticket(client, service_headers):
    from tests.api.helpers import COMPLAINT

    conversation = say(client, service_headers, "我要投诉", "u-1").json()["conversation"]
    body = {**COMPLAINT, "channel": "telegram", "conversation_id": conversation["id"]}
    ticket = client.post("/api/v1/tickets", json=body, headers=service_headers).json()
    linked = client.get(f"/api/v1/conversations/{conversation['id']}", headers=service_headers)
    assert linked.json()["ticket_ref"] == ticket["ref"]

    unknown = client.post(
        "/api/v1/tickets", json={**COMPLAINT, "conversation_id": 999999}, headers=service_headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "no conversation 999999"


def test_a_ticket_opened_from_the_console_is_the_conversations_customers(
    client, service_headers, make_staff
):
    """The agent gives no phone or channel id: the conversation's customer it is (S5.5)."""
    conversation = say(client, service_headers, "转人工", "u-1").json()["conversation"]
    _, agent = make_staff("agent-a")
    body = {"kind": "repair", "description": "洗衣机不排水", "conversation_id": conversation["id"]}
    created = client.post("/api/v1/tickets", json=body, headers=agent)
    assert created.status_code == 201, created.text
    assert created.json()["customer"]["id"] == conversation["customer_id"]
    assert created.json()["channel"] == "telegram"


def test_a_reply_the_channel_could_not_send_goes_back_to_the_deliverers(
    client, service_headers, published
):
    conversation = say(client, service_headers, "你好", "u-1").json()["conversation"]
    base = f"/api/v1/conversations/{conversation['id']}"
    [logged] = client.post(
        f"{base}/outbound", json={"messages": [{"text": "您好！"}]}, headers=service_headers
    ).json()
    again = client.post(f"{base}/messages/{logged['id']}/redeliver", headers=service_headers)
    assert again.status_code == 200, again.text
    assert again.json()["delivered_at"] is None
    event = published[-1]
    assert (event["message_id"], event["delivered"], event["sender"]) == (
        logged["id"],
        False,
        "bot",
    )
    inbound_id = client.get(f"{base}/messages", headers=service_headers).json()[0]["id"]
    refused = client.post(f"{base}/messages/{inbound_id}/redeliver", headers=service_headers)
    assert refused.status_code == 422
