"""The ticket state machine (issue #2 §3, S8.1: every change checked, nothing skips a step).

The expected tables below are written out independently of `api/services/workflow.py`.
"""

from __future__ import annotations

import pytest

from tests.api.helpers import act, create_ticket

ACTIONS = [
    "acknowledge",
    "investigate",
    "schedule",
    "start",
    "resolve",
    "close",
    "reopen",
    "escalate",
    "pause",
    "resume",
    "cancel",
]
FIELDS = {"note": "处理说明 / handling note", "resolution": "已更换电机 / motor replaced"}

# status -> {allowed action: resulting status}; every other action must be refused (409)
CASE = {
    "received": {
        "acknowledge": "acknowledged",
        "escalate": "received",
        "pause": "received",
        "cancel": "cancelled",
    },
    "acknowledged": {
        "investigate": "investigating",
        "escalate": "acknowledged",
        "pause": "acknowledged",
        "cancel": "cancelled",
    },
    "investigating": {
        "resolve": "resolved",
        "escalate": "investigating",
        "pause": "investigating",
        "cancel": "cancelled",
    },
    "resolved": {"close": "closed", "reopen": "investigating"},
    "closed": {"reopen": "investigating"},
    "cancelled": {},
}
SERVICE = {
    "received": {
        "acknowledge": "acknowledged",
        "escalate": "received",
        "pause": "received",
        "cancel": "cancelled",
    },
    "acknowledged": {
        "schedule": "scheduled",
        "escalate": "acknowledged",
        "pause": "acknowledged",
        "cancel": "cancelled",
    },
    "scheduled": {
        "schedule": "scheduled",
        "start": "in_progress",
        "escalate": "scheduled",
        "pause": "scheduled",
        "cancel": "cancelled",
    },
    "in_progress": {
        "schedule": "scheduled",
        "resolve": "resolved",
        "escalate": "in_progress",
        "pause": "in_progress",
        "cancel": "cancelled",
    },
    "resolved": {"close": "closed", "reopen": "acknowledged"},
    "closed": {"reopen": "acknowledged"},
    "cancelled": {},
}
PATH = {
    "complaint": {
        "received": [],
        "acknowledged": ["acknowledge"],
        "investigating": ["acknowledge", "investigate"],
        "resolved": ["acknowledge", "investigate", "resolve"],
        "closed": ["acknowledge", "investigate", "resolve", "close"],
        "cancelled": ["cancel"],
    },
    "repair": {
        "received": [],
        "acknowledged": ["acknowledge"],
        "scheduled": ["acknowledge", "schedule"],
        "in_progress": ["acknowledge", "schedule", "start"],
        "resolved": ["acknowledge", "schedule", "start", "resolve"],
        "closed": ["acknowledge", "schedule", "start", "resolve", "close"],
        "cancelled": ["cancel"],
    },
}
CASES = [
    ("complaint", status, action, CASE[status].get(action)) for status in CASE for action in ACTIONS
]
CASES += [
    ("repair", status, action, SERVICE[status].get(action))
    for status in SERVICE
    for action in ACTIONS
]


@pytest.fixture
def supervisor(make_staff):
    return make_staff("zhang.wei", "supervisor")[1]


@pytest.mark.parametrize(("kind", "status", "action", "expected"), CASES)
def test_every_transition(client, service_headers, supervisor, kind, status, action, expected):
    ref = create_ticket(client, service_headers, kind=kind)["ref"]
    for step in PATH[kind][status]:
        assert act(client, supervisor, ref, step, **FIELDS).status_code == 200
    response = act(client, supervisor, ref, action, **FIELDS)
    if expected is None:
        assert response.status_code == 409, response.text
        assert response.json()["status"] == status  # the refusal says where the ticket is
        assert action not in response.json()["allowed"]
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected


def test_transition_records_who_when_why(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    act(client, supervisor, ref, "acknowledge", note="已联系客户 / called the customer")
    act(client, supervisor, ref, "investigate", note="internal: check the installer", public=False)
    timeline = client.get(f"/api/v1/tickets/{ref}/timeline", headers=service_headers).json()
    assert [e["action"] for e in timeline] == ["created", "acknowledge", "investigate"]
    assert [e["status"] for e in timeline] == ["received", "acknowledged", "investigating"]
    assert (
        timeline[1]["by"] == "staff" and timeline[1]["text"] == "已联系客户 / called the customer"
    )
    assert timeline[2]["text"] is None  # internal notes never reach the customer (S6.3)
    assert all(e["at"] for e in timeline)


def test_resolve_needs_a_written_resolution(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    act(client, supervisor, ref, "acknowledge")
    act(client, supervisor, ref, "investigate")
    response = act(client, supervisor, ref, "resolve", note="done")
    assert response.status_code == 422
    assert "resolution" in response.json()["detail"]
    response = act(client, supervisor, ref, "resolve", resolution="退款200元 / refunded 200 yuan")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved" and body["resolution"].startswith("退款")
    assert body["resolved_at"] and body["first_response_at"]


def test_cancel_needs_a_reason(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    assert act(client, supervisor, ref, "cancel").status_code == 422
    assert act(client, supervisor, ref, "cancel", note="客户撤回").json()["status"] == "cancelled"


def test_unknown_action_is_422(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    response = act(client, supervisor, ref, "teleport")
    assert response.status_code == 422 and "acknowledge" in response.json()["detail"]


def test_schedule_does_not_apply_to_a_complaint(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    act(client, supervisor, ref, "acknowledge")
    response = act(client, supervisor, ref, "schedule")
    assert response.status_code == 409 and "complaint" in response.json()["detail"]


def test_escalation_raises_priority_and_level(client, service_headers, supervisor):
    ticket = create_ticket(client, service_headers, impact=3, urgency=3)
    assert ticket["priority"] == 4
    body = act(client, supervisor, ticket["ref"], "escalate", note="客户情绪激动").json()
    assert body["escalation_level"] == 1 and body["priority"] == 3


def test_pause_and_resume(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    body = act(client, supervisor, ref, "pause", note="等待客户提供发票").json()
    assert body["sla"]["paused"] is True and "resume" in body["allowed_actions"]
    assert act(client, supervisor, ref, "pause").status_code == 409
    body = act(client, supervisor, ref, "resume").json()
    assert body["sla"]["paused"] is False
    assert act(client, supervisor, ref, "resume").status_code == 409


def test_customer_reply_resumes_a_paused_clock(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    act(client, supervisor, ref, "pause", note="please send the invoice")
    response = client.post(
        f"/api/v1/tickets/{ref}/comments", json={"text": "发票已上传"}, headers=service_headers
    )
    assert response.status_code == 201 and response.json()["sla"]["paused"] is False


def test_service_clients_act_only_for_the_customer(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    assert act(client, service_headers, ref, "acknowledge").status_code == 403
    assert act(client, service_headers, ref, "escalate", note="紧急").status_code == 200
    assert act(client, service_headers, ref, "cancel", note="不需要了").json()["status"] == (
        "cancelled"
    )


def test_reopen_counts_and_restarts(client, service_headers, supervisor):
    ref = create_ticket(client, service_headers)["ref"]
    for step in PATH["complaint"]["closed"]:
        act(client, supervisor, ref, step, **FIELDS)
    body = act(client, service_headers, ref, "reopen", note="问题又出现了").json()
    assert body["status"] == "investigating" and body["reopen_count"] == 1
    assert body["resolved_at"] is None and body["closed_at"] is None


def test_unknown_reference_is_404(client, supervisor):
    response = act(client, supervisor, "CS-20000101-9999", "acknowledge")
    assert response.status_code == 404 and "CS-20000101-9999" in response.json()["detail"]
