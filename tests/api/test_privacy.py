"""Privacy (issue #2 §9): encryption at rest, masking per role and in logs (S11.1),
customer lookup and ticket verification (S5.5), export and erasure (S5.7)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from api.actor import SERVICE, Actor
from api.db import Database
from api.log_redaction import RedactingFilter
from api.models import Conversation, Event, Feedback, Message, Ticket
from api.models.enums import ActorType, Role
from api.services import audit
from api.services.customers import resolve_customer
from api.services.privacy import (
    can_see_personal_data,
    mask_address,
    mask_email,
    mask_name,
    mask_phone,
)
from tests.api.helpers import create_ticket

PHONE = "13800138000"
NAME = "王小明"
EMAIL = "xiaoming@example.com"
ADDRESS = "北京市朝阳区建国路88号"
TELEGRAM_ID = "tg-77001"
DESCRIPTION = "洗衣机脱水时噪音很大，师傅上门后没有解决。"
REMEDY = "要求换一台新机器"
RESOLUTION = "已更换电机，试机正常。"
COMMENT = "师傅态度很好，下午三点准时到。"
MESSAGE = "我住在北京市朝阳区建国路88号，电话13800138000"
NOTE = "客户说晚上七点以后方便接电话"
ORDER = "JD-99887766"
SECRETS = [PHONE, NAME, EMAIL, ADDRESS, TELEGRAM_ID, DESCRIPTION, REMEDY, RESOLUTION]
SECRETS += [COMMENT, MESSAGE, NOTE, ORDER, "tg-77002"]


@dataclass
class Seeded:
    customer_id: int
    ticket_ref: str
    conversation_id: int


def seed(
    db: Database,
    *,
    assignee_id: int | None = None,
    ref: str = "CS-20260101-0001",
    chat: str = TELEGRAM_ID,
) -> Seeded:
    """One customer with a resolved, rated complaint, a Telegram conversation and a note."""
    with db.writer() as session:
        customer = resolve_customer(
            session, SERVICE, name=NAME, phone=PHONE, channel="telegram",
            external_id=chat, language="zh",
        )  # fmt: skip
        customer.email, customer.address = EMAIL, ADDRESS
        conversation = Conversation(
            channel="telegram", external_id=chat, customer_id=customer.id,
            summary=json.dumps({"intent": "complain", "text": DESCRIPTION}, ensure_ascii=False),
        )  # fmt: skip
        session.add(conversation)
        session.flush()
        session.add(
            Message(conversation_id=conversation.id, direction="in", sender="customer",
                    text=MESSAGE, payload={"attachment": "photo-1.jpg"})
        )  # fmt: skip
        ticket = Ticket(
            ref=ref, kind="complaint", status="resolved", channel="telegram", priority=2,
            impact=2, urgency=2, customer_id=customer.id, assignee_id=assignee_id,
            conversation_id=conversation.id, description=DESCRIPTION, remedy_sought=REMEDY,
            resolution=RESOLUTION, address=ADDRESS, order_number=ORDER,
        )  # fmt: skip
        session.add(ticket)
        session.add(Feedback(ticket=ticket, rating=5, comment=COMMENT))
        session.flush()
        audit.record(
            session, SERVICE, "comment", ticket, ticket=ticket, customer_id=customer.id, text=NOTE
        )
        session.commit()
        return Seeded(customer.id, ticket.ref, conversation.id)


def lookup(client, headers, **body):
    return client.post("/api/v1/customers/lookup", json=body, headers=headers)


# --- masking (S11.1) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+442079460958", "+44******0958"),  # UK: two-digit country code
        ("+12025550123", "+1******0123"),  # NANP: one digit
        ("+85291234567", "+852****4567"),  # Hong Kong: three digits
        ("+8613800138000", "+86*******8000"),
        (None, None),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_name_zh_and_en():
    assert mask_name("王小明") == "王**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("John Smith") == "J*** S****"
    assert mask_name(None) is None


def test_mask_address_and_email():
    assert mask_address(ADDRESS) == "北京市朝阳区******"
    assert mask_address("221B Baker Street, London") == "221B*********************"
    assert "Baker" not in mask_address("221B Baker Street, London")
    assert mask_email("zhang.san@example.com") == "z***@example.com"
    assert mask_email("not-an-email") == "***"
    assert mask_address(None) is None and mask_email(None) is None


def test_need_to_know_rule():
    """S11.1: supervisors and admins always; an agent only for what is assigned to them."""
    agent = Actor(ActorType.staff, "7", Role.agent)
    assert can_see_personal_data(agent, assignee_id=7)
    assert not can_see_personal_data(agent, assignee_id=8)
    assert not can_see_personal_data(agent)
    assert can_see_personal_data(Actor(ActorType.staff, "9", Role.supervisor))
    assert can_see_personal_data(Actor(ActorType.staff, "9", Role.admin), assignee_id=3)
    assert not can_see_personal_data(SERVICE, assignee_id=None)


# --- lookup and profile (S5.5) -------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000"]
)
def test_lookup_by_phone_in_any_format(client, db, service_headers, written):
    seeded = seed(db)
    response = lookup(client, service_headers, phone=written)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["id"] == seeded.customer_id
    assert body["customer"]["channels"] == ["telegram"]
    assert [t["ref"] for t in body["tickets"]] == [seeded.ticket_ref]
    assert body["tickets"][0]["status"] == "resolved" and body["tickets"][0]["kind"] == "complaint"


def test_lookup_by_channel_identity(client, db, service_headers):
    seeded = seed(db)
    found = lookup(client, service_headers, channel="telegram", external_id=TELEGRAM_ID)
    assert found.status_code == 200 and found.json()["customer"]["id"] == seeded.customer_id
    other = lookup(client, service_headers, channel="wecom", external_id=TELEGRAM_ID)
    assert other.status_code == 404


def test_ticket_created_through_the_api_is_found_by_phone(client, db, service_headers):
    created = create_ticket(client, service_headers)
    body = lookup(client, service_headers, phone="+86 138 0013 8000").json()
    assert created["ref"] in [t["ref"] for t in body["tickets"]]
    assert body["customer"]["phone"] == "138****8000" and body["customer"]["name"] == "王**"


def test_masked_for_service_and_unassigned_agent_full_for_supervisor(
    client, db, make_staff, service_headers
):
    """S11.1: only the roles that need personal data see it."""
    mine_id, mine = make_staff("agent.assigned", Role.agent)
    _, other = make_staff("agent.other", Role.agent)
    _, supervisor = make_staff("supervisor", Role.supervisor)
    seeded = seed(db, assignee_id=mine_id)
    masked = {
        "name": "王**",
        "phone": "138****8000",
        "email": "x***@example.com",
        "address": "北京市朝阳区******",
        "masked": True,
    }
    full = {"name": NAME, "phone": PHONE, "email": EMAIL, "address": ADDRESS, "masked": False}

    def seen(headers, via_profile: bool) -> dict:
        if via_profile:
            response = client.get(f"/api/v1/customers/{seeded.customer_id}", headers=headers)
        else:
            response = lookup(client, headers, phone=PHONE)
        assert response.status_code == 200, response.text
        view = response.json()["customer"]
        return {key: view[key] for key in masked}

    assert seen(service_headers, via_profile=False) == masked
    for via_profile in (False, True):
        assert seen(other, via_profile) == masked
        assert seen(mine, via_profile) == full
        assert seen(supervisor, via_profile) == full


def test_profile_shows_contact_history(client, db, make_staff):
    _, supervisor = make_staff("supervisor", Role.supervisor)
    seeded = seed(db)
    body = client.get(f"/api/v1/customers/{seeded.customer_id}", headers=supervisor).json()
    assert [t["ref"] for t in body["tickets"]] == [seeded.ticket_ref]
    assert body["conversations"][0]["id"] == seeded.conversation_id
    assert body["conversations"][0]["channel"] == "telegram"
    assert body["customer"]["erased"] is False


# --- verification before the bot shows a ticket ----------------------------------------


def test_verify_by_phone_last4_or_identity(client, db, service_headers):
    seeded = seed(db)
    url = f"/api/v1/tickets/{seeded.ticket_ref}/verify"

    def verify(ref_url: str, **body) -> dict:
        response = client.post(ref_url, json=body, headers=service_headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert verify(url, phone_last4="8000") == {"verified": True}
    assert verify(url, phone_last4="8001") == {"verified": False}
    assert verify(url, channel="telegram", external_id=TELEGRAM_ID) == {"verified": True}
    assert verify(url, channel="telegram", external_id="tg-someone-else") == {"verified": False}
    assert verify(url, channel="wecom", external_id=TELEGRAM_ID) == {"verified": False}
    # an unknown reference answers the same way: nothing says why
    assert verify("/api/v1/tickets/CS-20991231-9999/verify", phone_last4="8000") == {
        "verified": False
    }


# --- encryption at rest (S11.1) --------------------------------------------------------


def test_raw_database_holds_no_plaintext(db):
    seed(db)
    queries = [
        "SELECT name, phone, email, address, phone_index FROM customers",
        "SELECT description, remedy_sought, resolution, address FROM tickets",
        "SELECT comment FROM feedback",
        "SELECT summary FROM conversations",
        "SELECT text FROM messages",
        "SELECT text, text_digest, data FROM events",
    ]
    with db.reader() as session:
        for query in queries:
            stored = " ".join(str(v) for row in session.execute(text(query)) for v in row)
            for secret in (PHONE, NAME, ADDRESS, EMAIL, DESCRIPTION, COMMENT, MESSAGE, NOTE):
                assert secret not in stored, (query, secret)
            assert "0013800" not in stored
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db.engine.url.database)
        files = [path, path.with_name(path.name + "-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert raw, "the database file was not found"
        for secret in (PHONE, NAME, ADDRESS, EMAIL, DESCRIPTION):
            assert secret.encode() not in raw, secret


# --- export (S5.7) ---------------------------------------------------------------------


def test_export_holds_everything_about_the_customer(client, db, make_staff):
    _, supervisor = make_staff("supervisor", Role.supervisor)
    seeded = seed(db)
    response = client.get(f"/api/v1/customers/{seeded.customer_id}/export", headers=supervisor)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["customer"] | {"created_at": None} == {
        "id": seeded.customer_id, "name": NAME, "phone": PHONE, "email": EMAIL,
        "address": ADDRESS, "language": "zh", "created_at": None, "erased_at": None,
    }  # fmt: skip
    assert data["identities"][0] | {"created_at": None} == {
        "channel": "telegram", "external_id": TELEGRAM_ID, "created_at": None,
    }  # fmt: skip
    (ticket,) = data["tickets"]
    assert ticket["ref"] == seeded.ticket_ref and ticket["description"] == DESCRIPTION
    assert ticket["resolution"] == RESOLUTION and ticket["address"] == ADDRESS
    assert ticket["feedback"]["rating"] == 5 and ticket["feedback"]["comment"] == COMMENT
    (conversation,) = data["conversations"]
    assert conversation["messages"][0]["text"] == MESSAGE
    assert DESCRIPTION in conversation["summary"]
    assert NOTE in [event["text"] for event in data["events"]]
    with db.reader() as session:  # who exported whose data is on record (S11.2)
        exported = session.scalars(select(Event).where(Event.action == "customer_exported")).all()
        assert [e.customer_id for e in exported] == [seeded.customer_id]


# --- erasure (S5.7) --------------------------------------------------------------------


def test_erasure_anonymises_keeps_reports_and_the_audit_chain(
    client, db, make_staff, service_headers
):
    _, admin = make_staff("admin", Role.admin)
    _, supervisor = make_staff("supervisor", Role.supervisor)
    seeded = seed(db)
    kept = seed(db, ref="CS-20260101-0002", chat="tg-77002")  # the same person: same profile
    assert kept.customer_id == seeded.customer_id
    other = create_ticket(
        client, service_headers, customer={"name": "Other Person", "phone": "+442079460958"}
    )

    response = client.post(f"/api/v1/customers/{seeded.customer_id}/erase", headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["customer_id"] == seeded.customer_id
    assert result["tickets"] == 2 and result["feedback"] == 2 and result["messages"] == 2
    assert result["events"] >= 2

    again = client.post(f"/api/v1/customers/{seeded.customer_id}/erase", headers=admin)
    assert again.status_code == 409 and "already erased" in again.json()["detail"]

    with db.reader() as session:
        assert audit.verify(session)["ok"] is True
        ticket = session.scalar(select(Ticket).where(Ticket.ref == seeded.ticket_ref))
        assert ticket.status == "resolved" and ticket.kind == "complaint"  # reports keep working
        assert ticket.feedback.rating == 5 and ticket.feedback.comment is None
        assert ticket.description == "[erased]" and ticket.address is None
        events = session.scalars(select(Event).where(Event.customer_id == seeded.customer_id))
        assert all(e.text is None for e in events)
        erased = session.scalar(select(Event).where(Event.action == "customer_erased"))
        assert erased.text is None
        assert not any(secret in json.dumps(erased.data) for secret in SECRETS)

    profile = client.get(f"/api/v1/customers/{seeded.customer_id}", headers=supervisor).json()
    assert profile["customer"]["erased"] is True
    assert profile["customer"]["name"] is None and profile["customer"]["phone"] is None
    assert len(profile["tickets"]) == 2
    assert lookup(client, service_headers, phone=PHONE).status_code == 404
    found = lookup(client, service_headers, channel="telegram", external_id=TELEGRAM_ID)
    assert found.status_code == 404
    verify = client.post(
        f"/api/v1/tickets/{seeded.ticket_ref}/verify", json={"phone_last4": "8000"},
        headers=service_headers,
    )  # fmt: skip
    assert verify.json() == {"verified": False}

    export = client.get(f"/api/v1/customers/{seeded.customer_id}/export", headers=supervisor)
    assert export.status_code == 200
    dumped = export.text + json.dumps(export.json(), ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in dumped, secret
    assert export.json()["customer"]["erased_at"] is not None

    # someone else's data is untouched
    untouched = lookup(client, supervisor, phone="+442079460958").json()
    assert untouched["customer"]["name"] == "Other Person"
    assert [t["ref"] for t in untouched["tickets"]] == [other["ref"]]
    with db.reader() as session:
        assert audit.verify(session)["ok"] is True


# --- access and bad input (S11.2) --------------------------------------------------------


def test_role_boundaries(client, db, make_staff, service_headers):
    _, agent = make_staff("agent", Role.agent)
    _, supervisor = make_staff("supervisor", Role.supervisor)
    seeded = seed(db)
    cid, ref = seeded.customer_id, seeded.ticket_ref
    export, erase = f"/api/v1/customers/{cid}/export", f"/api/v1/customers/{cid}/erase"
    assert client.get(export, headers=agent).status_code == 403
    assert client.get(export, headers=service_headers).status_code == 403
    assert client.post(erase, headers=agent).status_code == 403
    assert client.post(erase, headers=supervisor).status_code == 403
    assert client.post(erase, headers=service_headers).status_code == 403
    assert client.get(f"/api/v1/customers/{cid}", headers=service_headers).status_code == 403
    verify = f"/api/v1/tickets/{ref}/verify"
    assert client.post(verify, json={"phone_last4": "8000"}, headers=agent).status_code == 403

    nobody = [
        client.post("/api/v1/customers/lookup", json={"phone": PHONE}),
        client.get(f"/api/v1/customers/{cid}"),
        client.post(verify, json={"phone_last4": "8000"}),
        client.get(export),
        client.post(erase),
    ]
    assert [r.status_code for r in nobody] == [401] * 5
    with db.reader() as session:  # nothing was erased by the refused calls
        assert session.scalar(select(Ticket.description).where(Ticket.ref == ref)) == DESCRIPTION


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"phone": PHONE, "channel": "telegram", "external_id": TELEGRAM_ID},
        {"channel": "telegram"},
        {"external_id": TELEGRAM_ID},
        {"channel": "fax", "external_id": "1"},
        {"phone": "12345"},
        {"phone": "not a phone"},
    ],
)
def test_lookup_bad_input_is_422(client, db, service_headers, body):
    response = lookup(client, service_headers, **body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"phone_last4": "80"},
        {"phone_last4": "80a0"},
        {"phone_last4": "8000", "channel": "telegram", "external_id": TELEGRAM_ID},
        {"channel": "telegram"},
    ],
)
def test_verify_bad_input_is_422(client, db, service_headers, body):
    response = client.post(
        "/api/v1/tickets/CS-20260101-0001/verify", json=body, headers=service_headers
    )
    assert response.status_code == 422, response.text


def test_unknown_customer_is_404(client, db, make_staff, service_headers):
    _, admin = make_staff("admin", Role.admin)
    assert client.get("/api/v1/customers/999999", headers=admin).status_code == 404
    assert client.get("/api/v1/customers/999999/export", headers=admin).status_code == 404
    erase = client.post("/api/v1/customers/999999/erase", headers=admin)
    assert erase.status_code == 404 and erase.json()["detail"] == "no customer with id 999999"
    assert client.get("/api/v1/customers/abc", headers=admin).status_code == 422
    missing = lookup(client, service_headers, phone="13900139000")
    assert missing.status_code == 404 and "13900139000" not in missing.text


# --- logs (S11.1) ------------------------------------------------------------------------


def test_logs_never_contain_personal_data(client, db, service_headers, caplog):
    """A request flow logged at DEBUG (SQL statements and parameters included) leaks no
    phone or name; a phone that slips into a log call is redacted by the filter."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and parameters
    caplog.handler.addFilter(RedactingFilter())
    seeded = seed(db)
    assert lookup(client, service_headers, phone="138 0013 8000").status_code == 200
    client.post(
        f"/api/v1/tickets/{seeded.ticket_ref}/verify", json={"phone_last4": "8000"},
        headers=service_headers,
    )  # fmt: skip
    logging.getLogger("api.test").info("caller %s asked about %s", PHONE, seeded.ticket_ref)
    logging.getLogger("api.test").warning("callback to +44 20 7946 0958 or x@example.com")

    assert any("sqlalchemy" in r.name for r in caplog.records), "SQL was not logged at DEBUG"
    for secret in (PHONE, "7946 0958", "x@example.com", NAME, ADDRESS, DESCRIPTION):
        assert secret not in caplog.text, secret
    assert f"caller [redacted] asked about {seeded.ticket_ref}" in caplog.text
