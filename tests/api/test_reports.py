"""The periodic complaint and service report (issue #2 §11): volume, SLA and CSAT against
their targets, response times, time in each status, effect, handoffs and the complaint
summary (S9.3, S4.4, S4.6, S5.2, S5.3, S10.2), and its CSV export.

A small known data set is built through the HTTP API; only what the API cannot do
(instants in the past, exact minutes between events) is set with the ORM. Moving event
times breaks the audit chain, which these tests do not check.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.models import Conversation, Event, Ticket
from api.services import escalation
from api.services.reports import percentile
from tests.api.helpers import act, create_ticket

URL = "/api/v1/reports/complaints"
CSV_URL = "/api/v1/reports/complaints.csv"
RESOLUTION = {"resolution": "已更换减震器 / shock absorber replaced"}
PHONES = {"A": "13800000001", "B": "13800000002", "C": "13800000003"}


def local_today(settings) -> date:
    return datetime.now(UTC).astimezone(settings.tz).date()


def around_today(settings) -> dict[str, str]:
    """A period holding every instant of the data set, due times included."""
    today = local_today(settings)
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=30))}


def update_ticket(db, ref: str, **columns) -> None:
    with db.writer() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        for name, value in columns.items():
            setattr(ticket, name, value)
        session.commit()


def pin_events(db, ref: str, base: datetime, minutes: dict[str, int]) -> None:
    """Move the ticket's first event of each named action to `base` + minutes."""
    with db.writer() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.ref == ref))
        for action, offset in minutes.items():
            event = session.scalar(
                select(Event)
                .where(Event.ticket_id == ticket_id, Event.action == action)
                .order_by(Event.seq)
            )
            event.occurred_at = base + timedelta(minutes=offset)
        session.commit()


def work(client, headers: dict, ref: str, *actions: str) -> None:
    for action in actions:
        fields = RESOLUTION if action == "resolve" else {}
        response = act(client, headers, ref, action, **fields)
        assert response.status_code == 200, response.text


def rate(client, headers: dict, ref: str, rating: int) -> None:
    response = client.post(
        f"/api/v1/tickets/{ref}/feedback", json={"rating": rating}, headers=headers
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def supervisor(make_staff) -> dict:
    return make_staff("rep.supervisor", "supervisor")[1]


@pytest.fixture
def dataset(client, db, settings, service_headers, make_staff) -> dict:
    """Five tickets in the period and one before it:

    T1 complaint A noise/WM-100 web, about the agent: worked (with a pause), rated 5 → closed
    T2 complaint A noise/WM-100 telegram: resolved, rated 1 → reopened and escalated
    T3 complaint B delivery/FR-200 web, safety: acknowledge breached → escalated
    T4 repair C -/WM-100 phone: scheduled, done, rated 4 → closed
    T5 inquiry B -/- web: acknowledged
    T6 complaint C, created 60 days ago: outside the period
    """
    agent_id, agent = make_staff("rep.agent", "agent", skills=["*"])

    def new(customer: str, **fields) -> str:
        body = {"customer": {"name": f"客户{customer}", "phone": PHONES[customer]}, **fields}
        return create_ticket(client, service_headers, **body)["ref"]

    t1 = new("A", category="noise", product_model="WM-100", about_staff_id=agent_id)
    t2 = new("A", category="noise", product_model="WM-100", channel="telegram")
    t3 = new("B", category="delivery", product_model="FR-200", safety=True)
    t4 = new("C", kind="repair", product_model="WM-100", channel="phone")
    t5 = new("B", kind="inquiry", description="请问保修期多长？")
    t6 = new("C", category="noise", product_model="WM-100")

    work(client, agent, t1, "acknowledge", "investigate", "pause", "resume", "resolve")
    rate(client, service_headers, t1, 5)
    work(client, agent, t2, "acknowledge", "investigate", "resolve")
    rate(client, service_headers, t2, 1)
    work(client, agent, t4, "acknowledge", "schedule", "start", "resolve")
    rate(client, service_headers, t4, 4)
    work(client, agent, t5, "acknowledge")

    now = datetime.now(UTC)
    update_ticket(db, t3, acknowledge_due_at=now - timedelta(minutes=5))
    breaches = escalation.check_breaches(db, settings, now)
    assert [(b["ref"], b["target"]) for b in breaches] == [(t3, "acknowledge")]

    # exact wall-clock response times (S4.4): base + minutes
    base = now - timedelta(hours=12)
    update_ticket(
        db,
        t1,
        created_at=base,
        first_response_at=base + timedelta(minutes=30),
        resolved_at=base + timedelta(minutes=120),
    )
    update_ticket(db, t2, created_at=base, first_response_at=base + timedelta(minutes=10))
    update_ticket(
        db,
        t4,
        created_at=base,
        first_response_at=base + timedelta(minutes=60),
        resolved_at=base + timedelta(minutes=600),
    )
    # exact stays (S5.3); pause/resume/escalate keep the status and do not split a stay
    pin_events(
        db,
        t1,
        base,
        {
            "created": 0,
            "acknowledge": 10,
            "investigate": 30,
            "pause": 50,
            "resume": 70,
            "resolve": 90,
            "close": 100,
        },
    )
    pin_events(
        db,
        t2,
        base,
        {"created": 0, "acknowledge": 5, "investigate": 15, "resolve": 75, "reopen": 95},
    )
    pin_events(
        db,
        t4,
        base,
        {
            "created": 0,
            "acknowledge": 20,
            "schedule": 50,
            "start": 110,
            "resolve": 170,
            "close": 200,
        },
    )
    pin_events(db, t5, base, {"created": 0, "acknowledge": 40})

    long_ago = now - timedelta(days=60)
    update_ticket(
        db,
        t6,
        created_at=long_ago,
        acknowledge_due_at=long_ago,
        first_response_due_at=long_ago,
        resolve_due_at=long_ago,
    )

    with db.reader() as session:
        customers = dict(session.execute(select(Ticket.ref, Ticket.customer_id)).all())
    return {
        "refs": [t1, t2, t3, t4, t5, t6],
        "agent_id": agent_id,
        "customer": {"A": customers[t1], "B": customers[t3], "C": customers[t4]},
    }


def get_report(client, headers: dict, **params) -> dict:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_volume_and_complaints(client, settings, supervisor, dataset):
    """S9.3: volume by kind, category, product, channel, priority, day; complaint summary
    with the top products, open vs closed and those naming a staff member (S10.2); a
    ticket created before the period is not counted."""
    report = get_report(client, supervisor, **around_today(settings))
    volume = report["volume"]
    assert volume["total"] == 5
    assert volume["by_kind"] == {
        "inquiry": 1,
        "complaint": 3,
        "repair": 1,
        "installation": 0,
        "maintenance": 0,
        "replacement": 0,
        "recall": 0,
    }
    assert volume["by_category"] == [
        {"key": "noise", "count": 2},
        {"key": None, "count": 2},
        {"key": "delivery", "count": 1},
    ]
    assert volume["by_product_model"] == [
        {"key": "WM-100", "count": 3},
        {"key": "FR-200", "count": 1},
        {"key": None, "count": 1},
    ]
    assert volume["by_channel"] == {
        "web": 3,
        "telegram": 1,
        "wecom": 0,
        "phone": 1,
        "email": 0,
        "console": 0,
    }
    # T2 escalated 3 → 2 by its low rating; T3 is a safety report: 1
    assert volume["by_priority"] == {"1": 1, "2": 1, "3": 3, "4": 0}
    assert volume["safety"] == 1
    assert len(volume["by_day"]) == 32
    assert sum(day["count"] for day in volume["by_day"]) == 5

    complaints = report["complaints"]
    assert complaints["total"] == 3
    assert (complaints["open"], complaints["closed"]) == (2, 1)
    assert complaints["by_status"]["closed"] == 1
    assert complaints["by_status"]["investigating"] == 1
    assert complaints["by_status"]["received"] == 1
    assert complaints["by_category"] == [
        {"key": "noise", "count": 2},
        {"key": "delivery", "count": 1},
    ]
    assert complaints["top_product_models"] == [
        {"key": "WM-100", "count": 2},
        {"key": "FR-200", "count": 1},
    ]
    assert complaints["about_staff"] == 1
    assert complaints["about_staff_by_member"] == [
        {"staff_id": dataset["agent_id"], "complaints": 1}
    ]
    assert sum(day["count"] for day in complaints["by_day"]) == 3


def test_sla_against_target(client, settings, supervisor, dataset):
    """S5.2, S9.1: per target the tickets due in the period, met and breached; compliance
    against SLA_COMPLIANCE_TARGET (0.9): 9 met of 10 decided meets it exactly."""
    sla = get_report(client, supervisor, **around_today(settings))["sla"]
    assert sla["targets"]["acknowledge"] == {
        "due": 5,
        "met": 4,
        "breached": 1,
        "pending": 0,
        "compliance": 0.8,
    }
    # T3 and T5 have not had a first response yet
    assert sla["targets"]["first_response"] == {
        "due": 5,
        "met": 3,
        "breached": 0,
        "pending": 2,
        "compliance": 1.0,
    }
    # T2 was reopened: its resolve clock runs again
    assert sla["targets"]["resolve"] == {
        "due": 5,
        "met": 2,
        "breached": 0,
        "pending": 3,
        "compliance": 1.0,
    }
    assert sla["overall"] == {"due": 15, "met": 9, "breached": 1, "pending": 5, "compliance": 0.9}
    assert sla["compliance_target"] == {"target": 0.9, "actual": 0.9, "met": True}


def test_response_times(client, settings, supervisor, dataset):
    """S4.4: mean, p50 and p90 of wall-clock minutes to first response and resolution."""
    times = get_report(client, supervisor, **around_today(settings))["response_times"]
    # first responses 10, 30, 60 minutes; resolutions 120, 600 (T2 was reopened)
    assert times["first_response"] == {"count": 3, "mean": 33.33, "p50": 30.0, "p90": 54.0}
    assert times["resolution"] == {"count": 2, "mean": 360.0, "p50": 360.0, "p90": 552.0}


def test_time_in_state(client, settings, supervisor, dataset):
    """S5.3: mean minutes per ticket in each status, per kind and category, from the
    events; a pause does not split a stay; stays not yet left and end states do not count."""
    tis = get_report(client, supervisor, **around_today(settings))["time_in_state"]

    def figures(states: dict) -> dict:
        return {status: (s["tickets"], s["mean_minutes"]) for status, s in states.items()}

    complaint = {
        "received": (2, 7.5),
        "acknowledged": (2, 15.0),
        "investigating": (2, 60.0),
        "resolved": (2, 15.0),
    }
    repair = {
        "received": (1, 20.0),
        "acknowledged": (1, 30.0),
        "scheduled": (1, 60.0),
        "in_progress": (1, 60.0),
        "resolved": (1, 30.0),
    }
    assert {kind: figures(states) for kind, states in tis["by_kind"].items()} == {
        "inquiry": {"received": (1, 40.0)},
        "complaint": complaint,
        "repair": repair,
    }
    assert list(tis["by_kind"]["repair"]) == list(repair)  # workflow order
    assert figures(tis["overall"]) == {
        "received": (4, 18.75),
        "acknowledged": (3, 20.0),
        "investigating": (2, 60.0),
        "scheduled": (1, 60.0),
        "in_progress": (1, 60.0),
        "resolved": (3, 20.0),
    }
    assert [(c["category"], figures(c["states"])) for c in tis["by_category"]] == [
        ("noise", complaint),
        (
            None,
            {
                "received": (2, 30.0),
                "acknowledged": (1, 30.0),
                "scheduled": (1, 60.0),
                "in_progress": (1, 60.0),
                "resolved": (1, 30.0),
            },
        ),
    ]


def test_csat_and_effect(client, settings, supervisor, dataset):
    """S4.6, S5.2: CSAT count, mean, distribution, share satisfied against CSAT_TARGET;
    reopen and escalation rates, repeat complainants (ids only) and repeat contacts."""
    report = get_report(client, supervisor, **around_today(settings))
    assert report["csat"] == {
        "count": 3,
        "mean": 3.33,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1},
        "satisfied": 2,
        "satisfied_rate": 0.6667,
        "target": {"target": 4.5, "actual": 3.33, "met": False},
    }
    customer = dataset["customer"]
    assert report["effect"] == {
        "tickets": 5,
        "resolved": 3,
        "reopened": 1,
        "reopen_rate": 0.3333,
        "escalated": 2,
        "escalation_rate": 0.4,
        "repeat_complainants": {
            "count": 1,
            "customers": [{"customer_id": customer["A"], "complaints": 2}],
        },
        # A (T1, T2) and B (T3, T5) came back; C's other ticket is before the period
        "customers": 3,
        "repeat_contact_customers": 2,
        "repeat_contact_rate": 0.6667,
    }
    assert "13800000001" not in str(report) and "客户A" not in str(report)


def test_period_filters_by_created_day(client, db, settings, supervisor, dataset):
    """A period holding only the old ticket's day counts it alone (S9.3 periods)."""
    t6 = dataset["refs"][5]
    day = (datetime.now(UTC) - timedelta(days=60)).astimezone(settings.tz).date()
    report = get_report(client, supervisor, **{"from": str(day), "to": str(day)})
    assert report["period"] == {
        "from": str(day),
        "to": str(day),
        "days": 1,
        "timezone": settings.timezone,
    }
    assert report["volume"]["total"] == 1
    assert report["volume"]["by_day"] == [{"day": str(day), "count": 1}]
    assert report["complaints"]["total"] == 1
    # its three targets fell due that day and were missed; the check has not marked them
    # yet (it ran before the ticket was moved back): overdue and unmet is breached
    assert report["sla"]["overall"]["due"] == 3
    assert report["sla"]["overall"]["breached"] == 3
    rows = client.get(CSV_URL, params={"from": str(day), "to": str(day)}, headers=supervisor)
    assert [r["ref"] for r in csv.DictReader(io.StringIO(rows.text.lstrip("\ufeff")))] == [t6]


def test_empty_period_gives_zeros(client, supervisor, dataset):
    """Counts are 0 and the lists empty; only means and rates of nothing are null."""
    report = get_report(client, supervisor, **{"from": "2020-02-01", "to": "2020-02-29"})
    assert report["period"]["days"] == 29
    volume = report["volume"]
    assert volume["total"] == 0 and volume["safety"] == 0
    assert set(volume["by_kind"].values()) == {0}
    assert volume["by_category"] == [] and volume["by_product_model"] == []
    assert [d["count"] for d in volume["by_day"]] == [0] * 29
    zero = {"due": 0, "met": 0, "breached": 0, "pending": 0, "compliance": None}
    assert report["sla"]["targets"] == {
        t: zero for t in ("acknowledge", "first_response", "resolve")
    }
    assert report["sla"]["compliance_target"] == {"target": 0.9, "actual": None, "met": None}
    nothing = {"count": 0, "mean": None, "p50": None, "p90": None}
    assert report["response_times"] == {"first_response": nothing, "resolution": nothing}
    assert report["time_in_state"] == {"overall": {}, "by_kind": {}, "by_category": []}
    assert report["csat"]["count"] == 0 and report["csat"]["mean"] is None
    assert set(report["csat"]["distribution"].values()) == {0}
    assert report["effect"]["repeat_complainants"] == {"count": 0, "customers": []}
    assert report["effect"]["reopen_rate"] is None
    assert report["handoffs"] == {
        "conversations": 0,
        "handed_off": 0,
        "handoff_rate": None,
        "bot_containment_rate": None,
        "claimed": 0,
        "abandoned": 0,
        "mean_wait_minutes": None,
    }
    assert report["complaints"]["total"] == 0 and report["complaints"]["top_product_models"] == []
    rows = client.get(
        CSV_URL, params={"from": "2020-02-01", "to": "2020-02-29"}, headers=supervisor
    )
    assert rows.status_code == 200
    assert rows.text.lstrip("\ufeff").splitlines() == [
        "ref,kind,category,product_model,channel,priority,safety,status,created_at,"
        "resolved_at,closed_at,reopen_count,escalation_level,breached,rating"
    ]


def test_handoffs(client, db, settings, supervisor, service_headers, make_staff):
    """S4.4: conversations active in the period, handed off, bot containment, and the
    mean wait before an agent claims (from the handoff events)."""
    _, agent = make_staff("rep.claimer", "agent")

    def open_conversation(user: str) -> int:
        response = client.post(
            "/api/v1/conversations",
            headers=service_headers,
            json={"channel": "telegram", "external_id": user},
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def handoff(conversation: int) -> None:
        response = client.post(
            f"/api/v1/conversations/{conversation}/handoff",
            headers=service_headers,
            json={"reason": "customer_request"},
        )
        assert response.status_code == 200, response.text

    claimed, abandoned, contained, returning, dormant = (
        open_conversation(f"tg-{n}") for n in range(5)
    )
    handoff(claimed)
    assert client.post(f"/api/v1/conversations/{claimed}/claim", headers=agent).status_code == 200
    handoff(abandoned)
    released = client.post(f"/api/v1/conversations/{abandoned}/release", headers=service_headers)
    assert released.status_code == 200
    message = {"direction": "in", "sender": "customer", "text": "还在吗？"}
    posted = client.post(
        f"/api/v1/conversations/{returning}/messages", json=message, headers=service_headers
    )
    assert posted.status_code == 201, posted.text

    long_ago = datetime.now(UTC) - timedelta(days=60)
    with db.writer() as session:
        for conversation in (returning, dormant):  # opened long ago; one wrote today
            session.get(Conversation, conversation).created_at = long_ago
        taken_at = session.scalar(
            select(Event.occurred_at).where(Event.action == "conversation_claimed")
        )
        queued = session.scalar(
            select(Event).where(Event.action == "handoff_requested", Event.subject_id == claimed)
        )
        queued.occurred_at = taken_at - timedelta(minutes=7)
        session.commit()

    handoffs = get_report(client, supervisor, **around_today(settings))["handoffs"]
    assert handoffs == {
        "conversations": 4,
        "handed_off": 2,
        "handoff_rate": 0.5,
        "bot_containment_rate": 0.5,
        "claimed": 1,
        "abandoned": 1,
        "mean_wait_minutes": 7.0,
    }
    assert contained  # opened today, never handed off: contained by the bot


def test_cost_per_ticket(client, db, settings, supervisor, service_headers, make_staff):
    """S4.4: the cost model (agent hours, conversations, technicians' visits) over the
    tickets created in the period; a claim still held is not counted yet."""
    _, agent = make_staff("rep.costed", "agent")
    repair = create_ticket(client, service_headers, kind="repair")["ref"]
    create_ticket(client, service_headers, customer={"name": "客户B", "phone": PHONES["B"]})
    work(client, agent, repair, "acknowledge", "schedule", "start")  # one visit

    conversations = []
    for user in ("tg-cost-1", "tg-cost-2"):
        opened = client.post(
            "/api/v1/conversations",
            headers=service_headers,
            json={"channel": "telegram", "external_id": user},
        )
        conversation = opened.json()["id"]
        conversations.append(conversation)
        handoff = {"reason": "customer_request"}
        url = f"/api/v1/conversations/{conversation}"
        assert client.post(f"{url}/handoff", json=handoff, headers=service_headers).is_success
        assert client.post(f"{url}/claim", headers=agent).is_success
    released = client.post(f"/api/v1/conversations/{conversations[0]}/release", headers=agent)
    assert released.status_code == 200, released.text  # the second is still held
    with db.writer() as session:  # the first claim lasted 30 minutes
        claim, release = (
            session.scalar(
                select(Event).where(Event.action == action, Event.subject_id == conversations[0])
            )
            for action in ("conversation_claimed", "conversation_released")
        )
        claim.occurred_at = release.occurred_at - timedelta(minutes=30)
        session.commit()

    cost = get_report(client, supervisor, **around_today(settings))["cost"]
    assert cost == {
        "currency": "CNY",
        "rates": {"agent_hour": 60.0, "conversation": 0.5, "field_visit": 80.0},
        "agent_minutes": 30.0,
        "conversations": 2,
        "field_visits": 1,
        "agent_cost": 30.0,
        "conversation_cost": 1.0,
        "field_visit_cost": 80.0,
        "total": 111.0,
        "per_ticket": 55.5,
    }
    empty = get_report(client, supervisor, **{"from": "2020-01-01", "to": "2020-01-31"})
    assert empty["cost"]["total"] == 0 and empty["cost"]["per_ticket"] is None


def test_csv_export(client, settings, supervisor, service_headers, dataset):
    """The period's ticket rows for spreadsheets: no personal data, breached targets,
    ratings; a formula-like category is neutralised (CSV injection)."""
    odd = create_ticket(
        client,
        service_headers,
        category="=HYPERLINK(1)",
        customer={"name": "客户D", "phone": "13800000004"},
    )["ref"]
    response = client.get(CSV_URL, params=around_today(settings), headers=supervisor)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.text
    assert text.startswith("\ufeff")
    for secret in (*PHONES.values(), "13800000004", "客户A", "客户D", "噪音"):
        assert secret not in text
    rows = {row["ref"]: row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    t1, t2, t3, t4, t5, _ = dataset["refs"]
    assert set(rows) == {t1, t2, t3, t4, t5, odd}
    assert rows[t1]["status"] == "closed" and rows[t1]["rating"] == "5"
    assert rows[t1]["created_at"].endswith("+08:00")
    assert rows[t2]["rating"] == "1" and rows[t2]["reopen_count"] == "1"
    assert rows[t3]["breached"] == "acknowledge" and rows[t3]["safety"] == "yes"
    assert rows[t3]["escalation_level"] == "1"
    assert rows[t4]["kind"] == "repair" and rows[t4]["category"] == ""
    assert rows[t5]["breached"] == "" and rows[t5]["rating"] == ""
    assert rows[odd]["category"] == "'=HYPERLINK(1)"


def test_default_period_is_the_last_30_days(client, settings, supervisor):
    today = local_today(settings)
    period = get_report(client, supervisor)["period"]
    assert period == {
        "from": str(today - timedelta(days=29)),
        "to": str(today),
        "days": 30,
        "timezone": settings.timezone,
    }


@pytest.mark.parametrize("url", [URL, CSV_URL])
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-03-10", "to": "2026-03-09"}, "before"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "367 days"),
        ({"from": "2026-13-01"}, None),
        ({"to": "yesterday"}, None),
    ],
)
def test_bad_periods_are_422(client, supervisor, url, params, message):
    response = client.get(url, params=params, headers=supervisor)
    assert response.status_code == 422, response.text
    if message:
        assert message in response.json()["detail"]


def test_a_full_year_is_allowed(client, supervisor):
    """366 days (a leap year) is the longest period."""
    report = get_report(client, supervisor, **{"from": "2024-01-01", "to": "2024-12-31"})
    assert report["period"]["days"] == 366


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_role_boundaries(client, make_staff, service_headers, url):
    """Reports are for supervisors and admins (S11.2 roles)."""
    _, agent = make_staff("rep.only-agent", "agent")
    _, admin = make_staff("rep.admin", "admin")
    assert client.get(url).status_code == 401
    assert client.get(url, headers=agent).status_code == 403
    assert client.get(url, headers=service_headers).status_code == 403
    assert client.get(url, headers=admin).status_code == 200


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10.0, 30.0, 60.0], 0.5) == 30.0
    assert percentile([60.0, 10.0, 30.0], 0.9) == pytest.approx(54.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
