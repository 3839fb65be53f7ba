"""QA sampling of delivered tickets (S8.2): a supervisor samples closed tickets, a reviewer
who did not handle them scores each on the checklist, a failure opens a rectification for
the handler, every step is in the audit chain, and the report counts it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api import cli
from api.models import Event, QaSample, Ticket
from api.services import qa
from tests.api.helpers import act, create_ticket, delivered

SAMPLES = "/api/v1/qa/samples"
ALL_MET = {"first_response": 2, "resolution": 2, "conduct": 2, "records": 2}


@pytest.fixture
def agent(make_staff) -> tuple[int, dict]:
    return make_staff("qa.agent", "agent")


@pytest.fixture
def supervisor(make_staff) -> tuple[int, dict]:
    return make_staff("qa.lead", "supervisor")


def today(settings) -> str:
    return str(datetime.now(UTC).astimezone(settings.tz).date())


def draw(client, headers, settings, **body) -> dict:
    body = {"from": today(settings), "to": today(settings), **body}
    response = client.post(SAMPLES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def score(client, headers, review_id: int, scores=ALL_MET, **body):
    return client.post(
        f"/api/v1/qa/reviews/{review_id}/score", json={"scores": scores, **body}, headers=headers
    )


def chain_ok(client, headers) -> bool:
    return client.get("/api/v1/audit/verify", headers=headers).json()["ok"]


def test_sample_holds_only_closed_tickets_of_the_period_never_twice(
    client, db, settings, service_headers, agent, supervisor
):
    closed = {delivered(client, service_headers, agent) for _ in range(4)}
    resolved = delivered(client, service_headers, agent, close=False)
    still_open = create_ticket(client, service_headers)["ref"]
    cancelled = create_ticket(client, service_headers)["ref"]
    act(client, service_headers, cancelled, "cancel", note="不需要了 / not needed")
    earlier = delivered(client, service_headers, agent)
    with db.writer() as session:  # closed 40 days ago: outside the period
        ticket = session.scalar(select(Ticket).where(Ticket.ref == earlier))
        ticket.closed_at = datetime.now(UTC) - timedelta(days=40)
        session.commit()

    sample = draw(client, supervisor[1], settings, count=10)
    refs = [review["ticket"]["ref"] for review in sample["reviews"]]
    assert sorted(refs) == sorted(closed) and len(set(refs)) == len(refs)
    assert not {resolved, still_open, cancelled, earlier} & set(refs)
    assert sample["population"] == 4 and sample["size"] == 4 and sample["reviewed"] == 0
    assert sample["drawn_by"] == supervisor[0] and sample["share"] is None
    assert {r["status"] for r in sample["reviews"]} == {"pending"}
    assert {r["agent_id"] for r in sample["reviews"]} == {agent[0]}

    again = draw(client, supervisor[1], settings, count=10)  # nothing is sampled twice
    assert again["population"] == 0 and again["reviews"] == []
    listed = client.get(SAMPLES, headers=supervisor[1]).json()
    assert [s["id"] for s in listed] == [again["id"], sample["id"]]
    assert listed[1]["size"] == 4
    with db.reader() as session:
        first, second = session.scalars(
            select(Event).where(Event.action == "qa_sample_drawn").order_by(Event.seq)
        )
        assert first.data["seed"] == sample["seed"] and len(first.data["tickets"]) == 4
        assert first.subject_id == sample["id"] and second.data["tickets"] == []
    assert chain_ok(client, supervisor[1])


def test_share_per_kind_default_share_and_seed(
    client, settings, service_headers, agent, supervisor
):
    for kind, n in (("complaint", 4), ("inquiry", 2), ("repair", 1)):
        for _ in range(n):
            delivered(client, service_headers, agent, kind)
    sample = draw(client, supervisor[1], settings, share=0.5, per_kind=True, seed=42)
    kinds = sorted(r["ticket"]["kind"] for r in sample["reviews"])
    assert kinds == ["complaint", "complaint", "inquiry", "repair"]  # ⌈4/2⌉ ⌈2/2⌉ ⌈1/2⌉
    assert sample["seed"] == 42 and sample["per_kind"] is True and sample["population"] == 7


def test_default_share_and_kind_filter(client, settings, service_headers, agent, supervisor):
    for kind in ("complaint", "complaint", "inquiry"):
        delivered(client, service_headers, agent, kind)
    sample = draw(client, supervisor[1], settings, kinds=["complaint"])
    assert sample["share"] == settings.qa_sample_share and sample["kinds"] == ["complaint"]
    assert sample["population"] == 2 and sample["size"] == 1  # ⌈0.1 × 2⌉


def test_the_same_seed_over_the_same_tickets_draws_the_same():
    population = [(n, "complaint" if n % 3 else "inquiry") for n in range(1, 41)]
    first = qa.choose(population, 7, share=0.25, count=None, per_kind=False)
    assert first == qa.choose(population, 7, share=0.25, count=None, per_kind=False)
    assert first != qa.choose(population, 8, share=0.25, count=None, per_kind=False)
    assert len(first) == 10 and len(set(first)) == 10
    per_kind = qa.choose(population, 7, share=None, count=3, per_kind=True)
    assert sorted(n % 3 == 0 for n in per_kind) == [False] * 3 + [True] * 3


def test_reviewer_never_scores_a_ticket_they_handled(
    client, settings, service_headers, agent, supervisor, make_staff
):
    """As S9.2: the assignee, and any supervisor who worked the ticket, cannot review it."""
    lead = supervisor[1]
    ref = delivered(client, service_headers, agent)
    worked = create_ticket(client, service_headers)["ref"]
    client.post(f"/api/v1/tickets/{worked}/assign", json={"staff_id": agent[0]}, headers=lead)
    act(client, lead, worked, "acknowledge", note="已联系客户 / called the customer")
    act(client, agent[1], worked, "investigate")
    act(client, agent[1], worked, "resolve", resolution="已处理 / handled")
    act(client, service_headers, worked, "close")
    reviews = {r["ticket"]["ref"]: r for r in draw(client, lead, settings, count=5)["reviews"]}

    refused = score(client, lead, reviews[worked]["id"])
    assert refused.status_code == 403 and "handled this ticket" in refused.json()["detail"]
    assert score(client, agent[1], reviews[ref]["id"]).status_code == 403  # an agent: no role
    assert score(client, lead, reviews[ref]["id"]).status_code == 200  # not handled by the lead
    _, other = make_staff("qa.other", "supervisor")
    assert score(client, other, reviews[worked]["id"]).status_code == 200


def test_scores_against_the_threshold_a_failure_opens_a_rectification(
    client, db, settings, service_headers, agent, supervisor
):
    for _ in range(3):
        delivered(client, service_headers, agent)
    reviews = draw(client, supervisor[1], settings, count=3)["reviews"]
    lead = supervisor[1]

    full = score(client, lead, reviews[0]["id"]).json()
    assert full["status"] == "passed" and full["score"] == 1.0 and full["rectification"] is None
    partly = score(client, lead, reviews[1]["id"], {**ALL_MET, "conduct": 1}).json()
    assert partly["status"] == "passed" and partly["score"] == 0.875  # ≥ 0.8

    failing = {**ALL_MET, "resolution": 0}  # 6 of 8 points: 0.75 < 0.8
    no_note = score(client, lead, reviews[2]["id"], failing)
    assert no_note.status_code == 422 and "note" in no_note.json()["detail"]
    failed = score(client, lead, reviews[2]["id"], failing, note="未向客户解释原因 / not explained")
    assert failed.status_code == 200, failed.text
    body = failed.json()
    assert body["status"] == "failed" and body["threshold"] == 0.8
    assert body["reviewer_id"] == supervisor[0]
    rectification = body["rectification"]
    assert rectification["assignee_id"] == agent[0] and rectification["missed"] == ["resolution"]
    assert rectification["findings"] == "未向客户解释原因 / not explained"
    assert datetime.fromisoformat(rectification["due_at"]) > datetime.now(UTC)
    assert rectification["done_at"] is None and rectification["overdue"] is False

    again = score(client, lead, reviews[2]["id"])
    assert again.status_code == 409 and "already scored" in again.json()["detail"]
    with db.reader() as session:
        actions = session.scalars(
            select(Event.action).where(Event.action.like("qa_%")).order_by(Event.seq)
        ).all()
        assert actions == ["qa_sample_drawn", *["qa_reviewed"] * 3, "qa_rectification_opened"]
        event = session.scalar(select(Event).where(Event.action == "qa_reviewed").limit(1))
        assert event.public is False  # never on the customer's timeline
    assert chain_ok(client, lead)


def test_rectification_is_closed_by_its_assignee(
    client, settings, service_headers, agent, supervisor, make_staff
):
    _, outsider = make_staff("qa.agent2", "agent")
    delivered(client, service_headers, agent)
    review = draw(client, supervisor[1], settings)["reviews"][0]
    handler_id, handler = agent
    failed = score(
        client,
        supervisor[1],
        review["id"],
        {**ALL_MET, "records": 0, "conduct": 1},
        note="记录不完整 / records incomplete",
    ).json()
    rectification_id = failed["rectification"]["id"]
    done_url = f"/api/v1/qa/rectifications/{rectification_id}/done"

    listed = client.get("/api/v1/qa/rectifications?open=true", headers=handler).json()
    assert [r["id"] for r in listed] == [rectification_id]
    assert listed[0]["missed"] == ["conduct", "records"]
    assert client.get("/api/v1/qa/rectifications", headers=outsider).json() == []
    refused = client.post(done_url, json={"note": "不是我的 / not mine"}, headers=outsider)
    assert refused.status_code == 403
    assert client.post(done_url, json={"note": " "}, headers=handler).status_code == 422
    done = client.post(done_url, json={"note": "已补全记录 / records completed"}, headers=handler)
    assert done.status_code == 200, done.text
    assert done.json()["done_by"] == handler_id and done.json()["note"].startswith("已补全")
    assert client.post(done_url, json={"note": "again"}, headers=handler).status_code == 409
    assert client.get("/api/v1/qa/rectifications?open=true", headers=supervisor[1]).json() == []
    everything = client.get("/api/v1/qa/rectifications", headers=supervisor[1]).json()
    assert [r["id"] for r in everything] == [rectification_id]
    assert chain_ok(client, supervisor[1])


def test_a_rectification_goes_to_whom_the_reviewer_names(
    client, settings, service_headers, agent, supervisor, make_staff
):
    coach_id, _ = make_staff("qa.coach", "supervisor")
    delivered(client, service_headers, agent)
    review = draw(client, supervisor[1], settings)["reviews"][0]
    failing = {**ALL_MET, "first_response": 0, "records": 0}
    unknown = score(client, supervisor[1], review["id"], failing, note="x", assignee_id=99999)
    assert unknown.status_code == 422
    named = score(client, supervisor[1], review["id"], failing, note="x", assignee_id=coach_id)
    assert named.json()["rectification"]["assignee_id"] == coach_id


def test_roles(client, settings, service_headers, agent, supervisor):
    delivered(client, service_headers, agent)
    review_id = draw(client, supervisor[1], settings)["reviews"][0]["id"]
    for headers in (agent[1], service_headers):
        assert client.post(SAMPLES, json={}, headers=headers).status_code == 403
        assert client.get(SAMPLES, headers=headers).status_code == 403
        assert score(client, headers, review_id).status_code == 403
        assert client.get("/api/v1/reports/qa", headers=headers).status_code == 403
    assert client.get("/api/v1/qa/rectifications", headers=service_headers).status_code == 403
    assert client.get(SAMPLES).status_code == 401
    criteria = client.get("/api/v1/qa/criteria", headers=agent[1]).json()
    assert [c["code"] for c in criteria] == list(ALL_MET)
    assert all(c["zh"] and c["en"] and c["max_points"] == 2 for c in criteria)


@pytest.mark.parametrize(
    "body",
    [
        {"share": 0.5, "count": 2},
        {"share": 0},
        {"share": 1.5},
        {"count": 0},
        {"from": "2026-12-05", "to": "2026-12-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"kinds": ["refund"]},
        {"seed": -1},
        {"colour": "red"},
    ],
)
def test_a_bad_sample_request_is_422(client, supervisor, body):
    response = client.post(SAMPLES, json=body, headers=supervisor[1])
    assert response.status_code == 422, response.text


def test_bad_scores_are_422_and_unknown_ids_404(
    client, settings, service_headers, agent, supervisor
):
    lead = supervisor[1]
    delivered(client, service_headers, agent)
    review_id = draw(client, lead, settings)["reviews"][0]["id"]
    missing = score(client, lead, review_id, {"first_response": 2, "conduct": 2})
    assert missing.status_code == 422 and "resolution, records" in missing.json()["detail"]
    for scores in ({**ALL_MET, "speed": 2}, {**ALL_MET, "conduct": 3}, {**ALL_MET, "records": -1}):
        assert score(client, lead, review_id, scores).status_code == 422
    assert score(client, lead, 99999).status_code == 404
    assert client.get(f"{SAMPLES}/99999", headers=lead).status_code == 404
    assert client.get("/api/v1/qa/reviews/99999", headers=lead).status_code == 404
    gone = client.post("/api/v1/qa/rectifications/99999/done", json={"note": "x"}, headers=lead)
    assert gone.status_code == 404
    assert client.get(f"/api/v1/qa/reviews/{review_id}", headers=lead).json()["status"] == "pending"


def test_qa_report(client, settings, service_headers, agent, supervisor, make_staff):
    other = make_staff("qa.agent2", "agent")
    for handler in (agent, agent, agent, other):
        delivered(client, service_headers, handler)
    reviews = draw(client, supervisor[1], settings, count=4)["reviews"]
    by_agent = {}
    for review in reviews:
        by_agent.setdefault(review["agent_id"], []).append(review["id"])
    a, b = by_agent[agent[0]], by_agent[other[0]]
    lead = supervisor[1]
    score(client, lead, a[0])
    failed = score(client, lead, a[1], {**ALL_MET, "resolution": 0, "records": 1}, note="x").json()
    score(client, lead, b[0], {**ALL_MET, "conduct": 0, "records": 0}, note="y")
    client.post(
        f"/api/v1/qa/rectifications/{failed['rectification']['id']}/done",
        json={"note": "done"},
        headers=agent[1],
    )

    period = {"from": today(settings), "to": today(settings)}
    report = client.get("/api/v1/reports/qa", params=period, headers=lead).json()
    assert report["period"]["from"] == today(settings)
    assert (report["samples"], report["sampled"], report["pending"]) == (1, 4, 1)
    assert (report["reviewed"], report["passed"], report["failed"]) == (3, 1, 2)
    assert report["pass_rate"] == 0.3333 and report["pass_threshold"] == 0.8
    assert report["by_criterion"]["resolution"] == {
        "mean_points": 1.33,
        "not_met": 1,
        "partly_met": 0,
    }
    assert report["by_criterion"]["records"] == {"mean_points": 1.0, "not_met": 1, "partly_met": 1}
    assert report["by_criterion"]["first_response"]["mean_points"] == 2.0
    assert report["by_agent"] == [
        {"agent_id": agent[0], "reviewed": 2, "failed": 1, "pass_rate": 0.5},
        {"agent_id": other[0], "reviewed": 1, "failed": 1, "pass_rate": 0.0},
    ]
    assert report["rectifications"] == {"opened": 2, "open": 1, "done": 1, "overdue": 0}
    complaints = client.get("/api/v1/reports/complaints", params=period, headers=lead).json()
    assert complaints["qa"] == {k: v for k, v in report.items() if k in complaints["qa"]}
    assert chain_ok(client, lead)


def test_erasing_the_customer_erases_the_qa_notes(
    client, db, settings, service_headers, agent, supervisor, make_staff
):
    """S5.7: the reviewer's findings and the rectification's note may quote the customer."""
    _, admin = make_staff("qa.admin", "admin")
    ref = delivered(client, service_headers, agent)
    review = draw(client, supervisor[1], settings)["reviews"][0]
    failing = {**ALL_MET, "resolution": 0}
    failed = score(client, supervisor[1], review["id"], failing, note="王小明 没有收到解释").json()
    client.post(
        f"/api/v1/qa/rectifications/{failed['rectification']['id']}/done",
        json={"note": "已致电王小明解释 / called him"},
        headers=agent[1],
    )
    customer_id = client.get(f"/api/v1/tickets/{ref}", headers=admin).json()["customer"]["id"]
    erased = client.post(f"/api/v1/customers/{customer_id}/erase", headers=admin).json()
    assert erased["qa_notes"] == 2
    after = client.get(f"/api/v1/qa/reviews/{review['id']}", headers=supervisor[1]).json()
    assert after["note"] == "[erased]" and after["rectification"]["note"] == "[erased]"
    assert after["status"] == "failed" and after["scores"] == failing  # the figures stay
    with db.reader() as session:
        texts = session.scalars(select(Event.text).where(Event.action.like("qa_%"))).all()
        assert texts == [None] * 4  # drawn, reviewed, opened, done: no text left
    assert chain_ok(client, supervisor[1])


def test_the_system_draws_a_sample_from_the_command_line(
    client, db, settings, service_headers, agent, monkeypatch, capsys
):
    """`python -m api qa-sample` (e.g. weekly from cron): drawn by the system, audited."""
    refs = {delivered(client, service_headers, agent) for _ in range(3)}
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    day = today(settings)
    assert cli.main(["qa-sample", "--from", day, "--to", day, "--count", "2", "--seed", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seed"] == 5 and printed["population"] == 3
    assert len(printed["tickets"]) == 2 and set(printed["tickets"]) <= refs
    with db.reader() as session:
        sample = session.get(QaSample, printed["sample"])
        assert sample.drawn_by is None and sample.count == 2
        event = session.scalar(select(Event).where(Event.action == "qa_sample_drawn"))
        assert event.actor_type == "system"

    assert cli.main(["qa-sample", "--share", "0"]) == 2
    assert "share" in capsys.readouterr().err
    assert cli.main(["qa-sample", "--from", day, "--to", "2020-01-01"]) == 2
    assert "before" in capsys.readouterr().err
