"""Conversations, message log and handoff (issue #2 §5): S5.4, S5.5, S9.2, S11.1, S11.2, S12.3."""

from __future__ import annotations

import itertools
import threading

import httpx
import pytest
from sqlalchemy import select, text

from api import crypto
from api.actor import SERVICE
from api.models import Event, Ticket
from api.services import audit
from api.services.customers import resolve_customer

BASE = "/api/v1/conversations"
_refs = itertools.count(1)


@pytest.fixture
def open_conv(client, service_headers):
    def _open(channel: str = "telegram", external_id: str = "1001", **extra) -> dict:
        body = {"channel": channel, "external_id": external_id, **extra}
        response = client.post(BASE, json=body, headers=service_headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    return _open


@pytest.fixture
def waiting(client, service_headers, open_conv):
    """A conversation handed off to the queue."""

    def _waiting(external_id: str = "2001", urgent: bool = False) -> dict:
        conv = open_conv("telegram", external_id)
        response = client.post(
            f"{BASE}/{conv['id']}/handoff",
            json={"reason": "customer_request", "summary": {"kind": "repair"}, "urgent": urgent},
            headers=service_headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    return _waiting


def add_ticket(db, customer_id: int, *, kind: str = "complaint", about: int | None = None) -> str:
    """A ticket row made with the ORM (the tickets API is tested on its own)."""
    ref = f"CS-20260101-{next(_refs):04d}"
    with db.writer() as session:
        session.add(
            Ticket(
                ref=ref,
                kind=kind,
                status="received",
                channel="telegram",
                priority=3,
                impact=2,
                urgency=2,
                customer_id=customer_id,
                description="rude technician",
                about_staff_id=about,
            )
        )
        session.commit()
    return ref


def actions(db) -> list[str]:
    with db.reader() as session:
        return list(session.scalars(select(Event.action).order_by(Event.seq)))


def test_open_is_get_or_create(client, service_headers, db):
    """S5.5: one conversation per channel user, linked to a customer profile."""
    body = {"channel": "telegram", "external_id": "1001", "language": "zh"}
    first = client.post(BASE, json=body, headers=service_headers)
    again = client.post(BASE, json=body, headers=service_headers)
    assert first.status_code == 201 and again.status_code == 200
    conv = first.json()
    assert again.json()["id"] == conv["id"]
    assert conv["mode"] == "bot" and conv["customer_id"] is not None and conv["agent_id"] is None
    assert actions(db).count("conversation_opened") == 1
    found = client.get(f"{BASE}/by-channel/telegram/1001", headers=service_headers)
    assert found.status_code == 200 and found.json()["id"] == conv["id"]
    assert client.get(f"{BASE}/by-channel/wecom/1001", headers=service_headers).status_code == 404


def test_one_customer_across_channels(client, service_headers, db, open_conv):
    """S5.5: identities linked by phone make the web and WeCom conversations one customer."""
    web = open_conv("web", "w-1")
    wecom = open_conv("wecom", "wm-1")
    assert web["customer_id"] != wecom["customer_id"]
    with db.writer() as session:
        resolve_customer(session, SERVICE, phone="13800138000", channel="web", external_id="w-1")
        resolve_customer(
            session, SERVICE, phone="+86 138 0013 8000", channel="wecom", external_id="wm-1"
        )
        session.commit()
    assert open_conv("wecom", "wm-1")["customer_id"] == web["customer_id"]
    assert open_conv("web", "w-1")["customer_id"] == web["customer_id"]
    assert open_conv("telegram", "t-9")["customer_id"] != web["customer_id"]


def test_message_log_both_ways_and_dedupe(client, service_headers, open_conv):
    """S12.3: the transcript in both directions; a redelivery is logged once."""
    conv = open_conv()
    url = f"{BASE}/{conv['id']}/messages"
    inbound = {
        "direction": "in",
        "sender": "customer",
        "text": "洗衣机漏水",
        "channel_message_id": "7",
    }
    first = client.post(url, json=inbound, headers=service_headers)
    assert first.status_code == 201 and first.json()["duplicate"] is False
    redelivery = client.post(url, json=inbound, headers=service_headers)
    assert redelivery.status_code == 200
    assert redelivery.json() == {"id": first.json()["id"], "duplicate": True}
    out = {"direction": "out", "sender": "bot", "text": "Sorry to hear that", "payload": {"b": 1}}
    assert client.post(url, json=out, headers=service_headers).status_code == 201
    log = client.get(url, headers=service_headers).json()
    assert [(m["direction"], m["sender"], m["text"]) for m in log] == [
        ("in", "customer", "洗衣机漏水"),
        ("out", "bot", "Sorry to hear that"),
    ]
    assert log[1]["payload"] == {"b": 1}
    newer = client.get(url, params={"after_id": log[0]["id"]}, headers=service_headers).json()
    assert [m["id"] for m in newer] == [log[1]["id"]]
    # the same channel id in another conversation is a different message
    other = open_conv("telegram", "1002")
    response = client.post(f"{BASE}/{other['id']}/messages", json=inbound, headers=service_headers)
    assert response.status_code == 201


def test_concurrent_redeliveries_log_once(live_server, service_headers, open_conv):
    """A redelivery racing the first delivery is still logged once."""
    conv = open_conv()
    url = f"{live_server}{BASE}/{conv['id']}/messages"
    body = {"direction": "in", "sender": "customer", "text": "hello", "channel_message_id": "x"}
    results = _at_once([lambda c: c.post(url, json=body, headers=service_headers)] * 4)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1


def test_message_text_not_stored_in_plaintext(client, service_headers, db, waiting):
    """S11.1: message texts and the bot's summary are encrypted at rest."""
    conv = waiting()
    secret = "my phone is 13912345678"
    body = {"direction": "in", "sender": "customer", "text": secret}
    client.post(f"{BASE}/{conv['id']}/messages", json=body, headers=service_headers)
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT text FROM messages")).scalar_one()
        summary = conn.execute(text("SELECT summary FROM conversations")).scalar_one()
    assert "13912345678" not in raw and crypto.decrypt(raw) == secret
    assert "repair" not in summary


def test_handoff_queue_order(client, service_headers, make_staff, waiting, db):
    """Urgent first, then the longest waiting; every change of mode is an audit event."""
    first, second, urgent = waiting("a"), waiting("b"), waiting("c", urgent=True)
    assert first["mode"] == "waiting" and first["waiting_since"] is not None
    assert first["summary"] == {"kind": "repair"} and first["handoff_reason"] == "customer_request"
    _, headers = make_staff("li.lei")
    queue = client.get(BASE, params={"mode": "waiting"}, headers=headers).json()
    assert [c["id"] for c in queue] == [urgent["id"], first["id"], second["id"]]
    # a second handoff while waiting updates the summary, keeps the place in the queue
    again = client.post(
        f"{BASE}/{first['id']}/handoff",
        json={"reason": "safety", "summary": {"kind": "complaint"}},
        headers=service_headers,
    ).json()
    assert again["summary"] == {"kind": "complaint"}
    assert again["waiting_since"] == first["waiting_since"]
    assert actions(db).count("handoff_requested") == 3
    assert "handoff_updated" in actions(db)
    assert client.get(BASE, params={"mode": "bot"}, headers=headers).json() == []


def test_agents_available(client, service_headers, make_staff, open_conv):
    _, headers = make_staff("wang.fang")
    make_staff("zhao.lei")
    response = client.put(
        "/api/v1/staff/me/availability", json={"available": True}, headers=headers
    )
    assert response.status_code == 200 and response.json()["available"] is True
    conv = open_conv()
    handoff = client.post(
        f"{BASE}/{conv['id']}/handoff", json={"reason": "no_answer"}, headers=service_headers
    ).json()
    assert handoff["agents_available"] == 1


def test_claim_reply_release(client, service_headers, make_staff, waiting, db):
    conv = waiting()
    agent_id, agent = make_staff("li.lei")
    _, other = make_staff("han.mei")
    url = f"{BASE}/{conv['id']}"
    reply = {"text": "您好，我是客服小李"}
    assert client.post(f"{url}/messages", json=reply, headers=agent).status_code == 409
    claimed = client.post(f"{url}/claim", headers=agent)
    assert claimed.status_code == 200
    assert claimed.json()["mode"] == "agent" and claimed.json()["agent_id"] == agent_id
    taken = client.post(f"{url}/claim", headers=other)
    assert taken.status_code == 409 and "already claimed" in taken.json()["detail"]
    assert client.post(f"{url}/messages", json=reply, headers=other).status_code == 409
    sent = client.post(f"{url}/messages", json=reply, headers=agent)
    assert sent.status_code == 201
    log = client.get(f"{url}/messages", headers=agent).json()
    assert (log[-1]["direction"], log[-1]["sender"], log[-1]["agent_id"]) == (
        "out",
        "agent",
        agent_id,
    )
    # another agent may not end someone else's handoff; the holder may
    assert client.post(f"{url}/release", headers=other).status_code == 403
    released = client.post(f"{url}/release", headers=agent)
    assert released.status_code == 200
    assert released.json()["mode"] == "bot" and released.json()["agent_id"] is None
    assert client.post(f"{url}/release", headers=agent).status_code == 409
    assert client.post(f"{url}/claim", headers=agent).status_code == 409  # not waiting
    assert {"conversation_claimed", "conversation_released"} <= set(actions(db))
    with db.reader() as session:
        assert audit.verify(session)["ok"] is True


def test_customer_gives_up_while_waiting(client, service_headers, make_staff, waiting):
    """waiting → bot by the service client; an agent may not dequeue it."""
    conv = waiting()
    _, agent = make_staff("li.lei")
    assert client.post(f"{BASE}/{conv['id']}/release", headers=agent).status_code == 403
    response = client.post(f"{BASE}/{conv['id']}/release", headers=service_headers)
    assert response.status_code == 200 and response.json()["mode"] == "bot"
    assert response.json()["waiting_since"] is None


def test_two_agents_claim_at_once_one_wins(live_server, make_staff, waiting):
    """Two agents claiming one conversation at the same moment: exactly one wins."""
    staff = [make_staff(name) for name in ("li.lei", "han.mei")]
    for round_ in range(5):
        conv = waiting(f"race-{round_}")
        url = f"{live_server}{BASE}/{conv['id']}/claim"
        results = _at_once(
            [lambda c, h=headers, u=url: c.post(u, headers=h) for _, headers in staff]
        )
        assert sorted(r.status_code for r in results) == [200, 409]
        winner = next(r for r in results if r.status_code == 200).json()
        loser = next(r for r in results if r.status_code == 409).json()
        assert winner["agent_id"] in {staff_id for staff_id, _ in staff}
        assert "already claimed by another agent" in loser["detail"]


def test_fairness_subject_of_complaint_cannot_claim(
    client, service_headers, make_staff, waiting, db
):
    """S9.2/S10.2: the staff member a complaint is about never handles it."""
    subject_id, subject = make_staff("zhang.wei")
    _, colleague = make_staff("li.lei")
    conv = waiting()
    ref = add_ticket(db, conv["customer_id"], about=subject_id)
    linked = client.post(f"{BASE}/{conv['id']}/ticket", json={"ref": ref}, headers=service_headers)
    assert linked.status_code == 200 and linked.json()["ticket_ref"] == ref
    refused = client.post(f"{BASE}/{conv['id']}/claim", headers=subject)
    assert refused.status_code == 403 and "S9.2" in refused.json()["detail"]
    assert client.post(f"{BASE}/{conv['id']}/claim", headers=colleague).status_code == 200


def test_qualification_required_to_claim(client, service_headers, make_staff, waiting, db):
    """S5.4: only staff trained for the ticket's kind may take the conversation."""
    _, installer = make_staff("installer", skills=["installation"])
    _, complaints = make_staff("complaints", skills=["complaint", "inquiry"])
    conv = waiting()
    ref = add_ticket(db, conv["customer_id"], kind="complaint")
    client.post(f"{BASE}/{conv['id']}/ticket", json={"ref": ref}, headers=service_headers)
    assert client.post(f"{BASE}/{conv['id']}/claim", headers=installer).status_code == 403
    assert client.post(f"{BASE}/{conv['id']}/claim", headers=complaints).status_code == 200


def test_linking_a_complaint_about_the_holder_is_refused(
    client, service_headers, make_staff, waiting, db
):
    holder_id, holder = make_staff("zhang.wei")
    conv = waiting()
    client.post(f"{BASE}/{conv['id']}/claim", headers=holder)
    ref = add_ticket(db, conv["customer_id"], about=holder_id)
    response = client.post(f"{BASE}/{conv['id']}/ticket", json={"ref": ref}, headers=holder)
    assert response.status_code == 409
    missing = client.post(f"{BASE}/{conv['id']}/ticket", json={"ref": "CS-0"}, headers=holder)
    assert missing.status_code == 404


def test_reassign(client, service_headers, make_staff, waiting, db):
    subject_id, _ = make_staff("zhang.wei")
    agent_id, agent = make_staff("li.lei")
    target_id, _ = make_staff("han.mei")
    _, supervisor = make_staff("boss", "supervisor")
    conv = waiting()
    url = f"{BASE}/{conv['id']}"
    client.post(f"{url}/claim", headers=agent)
    body = {"staff_id": target_id}
    assert client.post(f"{url}/reassign", json=body, headers=agent).status_code == 403
    moved = client.post(f"{url}/reassign", json=body, headers=supervisor)
    assert moved.status_code == 200 and moved.json()["agent_id"] == target_id
    assert client.post(f"{url}/reassign", json=body, headers=supervisor).status_code == 409
    assert (
        client.post(f"{url}/reassign", json={"staff_id": 9999}, headers=supervisor).status_code
        == 404
    )
    # fairness holds for the target too (S9.2)
    ref = add_ticket(db, conv["customer_id"], about=subject_id)
    client.post(f"{url}/ticket", json={"ref": ref}, headers=supervisor)
    unfair = client.post(f"{url}/reassign", json={"staff_id": subject_id}, headers=supervisor)
    assert unfair.status_code == 403
    # the previous holder lost the conversation; a supervisor may end it
    assert client.post(f"{url}/messages", json={"text": "hi"}, headers=agent).status_code == 409
    assert client.post(f"{url}/release", headers=supervisor).json()["mode"] == "bot"
    assert agent_id != target_id and "conversation_reassigned" in actions(db)


def test_role_boundaries(client, service_headers, make_staff, waiting, open_conv):
    """Every route checks who calls it (issue #2 §10)."""
    conv = waiting()
    _, agent = make_staff("li.lei")
    url = f"{BASE}/{conv['id']}"
    for method, path, body in [
        ("post", BASE, {"channel": "web", "external_id": "x"}),
        ("get", BASE, None),
        ("get", url, None),
        ("get", f"{BASE}/by-channel/telegram/2001", None),
        ("get", f"{url}/messages", None),
        ("post", f"{url}/claim", None),
        ("post", f"{url}/release", None),
    ]:
        assert client.request(method, path, json=body).status_code == 401, path
    assert client.post(f"{url}/claim", headers=service_headers).status_code == 403
    assert client.get(BASE, headers=service_headers).status_code == 403
    body = {"staff_id": 1}
    assert client.post(f"{url}/reassign", json=body, headers=service_headers).status_code == 403
    assert (
        client.post(BASE, json={"channel": "web", "external_id": "x"}, headers=agent).status_code
        == 403
    )
    assert client.get(f"{BASE}/by-channel/telegram/2001", headers=agent).status_code == 403
    handoff = {"reason": "x", "summary": {}}
    assert client.post(f"{url}/handoff", json=handoff, headers=agent).status_code == 403
    # both kinds of caller may read one conversation and its log
    assert client.get(url, headers=agent).status_code == 200
    assert client.get(url, headers=service_headers).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "fax", "external_id": "1"},
        {"channel": "web", "external_id": ""},
        {"channel": "web", "external_id": "x" * 129},
        {"channel": "web", "external_id": "1", "language": "klingon!"},
        {"channel": "web"},
    ],
)
def test_bad_open_is_422(client, service_headers, body):
    assert client.post(BASE, json=body, headers=service_headers).status_code == 422


def test_bad_input_is_4xx(client, service_headers, make_staff, open_conv):
    conv = open_conv()
    url = f"{BASE}/{conv['id']}"
    _, agent = make_staff("li.lei")
    bad_messages = [
        {"direction": "in", "sender": "bot", "text": "x"},  # inbound is the customer's
        {"direction": "out", "sender": "customer", "text": "x"},
        {"direction": "out", "sender": "agent", "text": "x"},  # agents reply themselves
        {"direction": "sideways", "sender": "bot", "text": "x"},
        {"sender": "bot", "text": "x"},
        {"direction": "out", "sender": "bot"},  # nothing to log
        {"direction": "in", "sender": "customer", "text": "x" * 5000},
    ]
    for body in bad_messages:
        response = client.post(f"{url}/messages", json=body, headers=service_headers)
        assert response.status_code == 422, body
        assert response.json()["detail"]
    staff_bad = {"direction": "in", "sender": "customer", "text": "x"}
    assert client.post(f"{url}/messages", json=staff_bad, headers=agent).status_code == 422
    bad_handoffs = [
        {"summary": {}},
        {"reason": "Customer said: call 13800138000", "summary": {}},  # a code, not free text
        {"reason": "x", "summary": "not a dict"},
    ]
    for body in bad_handoffs:
        assert client.post(f"{url}/handoff", json=body, headers=service_headers).status_code == 422
    assert client.get(f"{BASE}/99999", headers=agent).status_code == 404
    assert client.get(f"{BASE}/abc", headers=agent).status_code == 422
    assert client.get(BASE, params={"mode": "lost"}, headers=agent).status_code == 422
    assert client.post(f"{BASE}/99999/claim", headers=agent).status_code == 404
    assert client.post(f"{url}/reassign", json={}, headers=agent).status_code == 403
    assert client.post(f"{url}/ticket", json={}, headers=agent).status_code == 422
    messages = client.get(f"{url}/messages", params={"after_id": -1}, headers=agent)
    assert messages.status_code == 422


def test_handoff_while_held_is_409(client, service_headers, make_staff, waiting):
    conv = waiting()
    _, agent = make_staff("li.lei")
    client.post(f"{BASE}/{conv['id']}/claim", headers=agent)
    again = client.post(
        f"{BASE}/{conv['id']}/handoff",
        json={"reason": "again", "summary": {}},
        headers=service_headers,
    )
    assert again.status_code == 409


def _at_once(calls: list) -> list[httpx.Response]:
    """Run each call(client) in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls), timeout=30)
    results: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int, call) -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            results[i] = call(http)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(r is not None for r in results)
    return results
