"""What the assistant did not understand, listed for training (S12.3), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.models.enums import Role

LOG = "/api/v1/unrecognised"
REPORT = "/api/v1/reports/unrecognised"


def log(client, headers, message: str, *, chat: str = "tg-1", **extra):
    body = {
        "channel": "telegram",
        "external_id": chat,
        "text": message,
        "language": "en",
        "reason": "not_understood",
        **extra,
    }
    response = client.post(LOG, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def supervisor(make_staff) -> dict:
    return make_staff("supervisor", Role.supervisor)[1]


def test_the_list_groups_the_same_question_and_puts_the_most_frequent_first(
    client, service_headers, supervisor
):
    log(client, service_headers, "how much is bitcoin?", chat="tg-1")
    log(client, service_headers, "How much is  BITCOIN", chat="tg-2")  # case, spaces, no "?"
    log(client, service_headers, "how much is bitcoin？", chat="tg-1", intent="faq",
        confidence=0.41)  # fmt: skip
    log(client, service_headers, "北京到上海高铁要多久", chat="tg-3", language="zh",
        reason="out_of_scope", intent="out_of_scope", confidence=0.93)  # fmt: skip

    report = client.get(REPORT, headers=supervisor)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["total"] == 4
    first, second = body["groups"]
    assert first["text"] == "how much is bitcoin？"  # the latest wording of the group
    assert (first["count"], first["conversations"]) == (3, 2)
    assert (first["intent"], first["confidence"]) == ("faq", 0.41)
    assert first["first_seen"] <= first["last_seen"]
    assert second == second | {"text": "北京到上海高铁要多久", "count": 1, "language": "zh",
                               "reason": "out_of_scope"}  # fmt: skip

    only = client.get(REPORT, params={"reason": "out_of_scope"}, headers=supervisor).json()
    assert only["total"] == 1 and [g["text"] for g in only["groups"]] == ["北京到上海高铁要多久"]
    top = client.get(REPORT, params={"limit": 1}, headers=supervisor).json()
    assert top["total"] == 4 and len(top["groups"]) == 1
    past = client.get(REPORT, params={"from": "2020-01-01", "to": "2020-01-31"}, headers=supervisor)
    assert past.json()["total"] == 0 and past.json()["groups"] == []


def test_the_message_opens_the_conversation_and_is_encrypted_at_rest(
    client, db, service_headers, supervisor
):
    logged = log(client, service_headers, "my number is 13800138000, what's the weather")
    conversation = client.get(
        f"/api/v1/conversations/{logged['conversation_id']}", headers=supervisor
    ).json()
    assert conversation["channel"] == "telegram" and conversation["customer_id"] is not None
    with db.reader() as session:
        stored = session.execute(text("SELECT text FROM unrecognised_messages")).scalar_one()
    assert "13800138000" not in stored and "weather" not in stored


def test_export_holds_them_and_erasure_deletes_them(
    client, db, service_headers, supervisor, make_staff
):
    _, admin = make_staff("admin", Role.admin)
    logged = log(client, service_headers, "asdfgh jkl", chat="tg-erase")
    customer_id = client.get(
        f"/api/v1/conversations/{logged['conversation_id']}", headers=supervisor
    ).json()["customer_id"]

    export = client.get(f"/api/v1/customers/{customer_id}/export", headers=supervisor).json()
    (conversation,) = export["conversations"]
    assert [u["text"] for u in conversation["unrecognised"]] == ["asdfgh jkl"]

    erased = client.post(f"/api/v1/customers/{customer_id}/erase", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["unrecognised"] == 1
    assert client.get(REPORT, headers=supervisor).json()["total"] == 0
    with db.reader() as session:
        assert session.execute(text("SELECT count(*) FROM unrecognised_messages")).scalar() == 0


def test_only_service_clients_log_and_only_supervisors_read(client, service_headers, make_staff):
    _, agent = make_staff("agent", Role.agent)
    body = {"channel": "web", "external_id": "w-1", "text": "??", "language": "zh",
            "reason": "not_understood"}  # fmt: skip
    assert client.post(LOG, json=body).status_code == 401
    assert client.post(LOG, json=body, headers=agent).status_code == 403
    assert client.get(REPORT).status_code == 401
    assert client.get(REPORT, headers=agent).status_code == 403
    assert client.get(REPORT, headers=service_headers).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 4097}, "text"),
        ({"reason": "bored"}, "reason"),
        ({"confidence": 1.5}, "confidence"),
        ({"channel": "fax"}, "channel"),
        ({"language": "Chinese!"}, "language"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, service_headers, change, field):
    body = {"channel": "web", "external_id": "w-1", "text": "??", "language": "zh",
            "reason": "not_understood"} | change  # fmt: skip
    response = client.post(LOG, json=body, headers=service_headers)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_a_bad_period_or_limit_is_a_422(client, supervisor):
    backwards = client.get(REPORT, params={"from": "2026-02-01", "to": "2026-01-01"},
                           headers=supervisor)  # fmt: skip
    assert backwards.status_code == 422 and "before" in backwards.json()["detail"]
    assert client.get(REPORT, params={"limit": 0}, headers=supervisor).status_code == 422
    assert client.get(REPORT, params={"reason": "x"}, headers=supervisor).status_code == 422
