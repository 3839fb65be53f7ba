"""Products, warranty / 三包 eligibility and recall campaigns (issue #2 §4; S7.1, S8.3)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.actor import SYSTEM
from api.models import Event
from api.services import catalogue
from api.services.catalogue import add_months, serial_in_range

TEXTS = {
    "hazard_zh": "电源板可能过热。",
    "hazard_en": "The power board may overheat.",
    "remedy_zh": "免费更换电源板。",
    "remedy_en": "Free replacement of the power board.",
    "notice_zh": "请拔下电源插头，我们将免费上门更换电源板。",
    "notice_en": "Please unplug the set; we will replace the power board at home for free.",
}
PRODUCT = {
    "model": "TST-100",
    "name_zh": "测试冰箱",
    "name_en": "test refrigerator",
    "category": "refrigerator",
    "warranty_months": 3,
    "return_days": 7,
    "exchange_days": 15,
    "repair_months": 1,
}


@pytest.fixture
def today(settings) -> date:
    return datetime.now(settings.tz).date()


@pytest.fixture
def admin(make_staff) -> dict:
    return make_staff("admin.zhao", "admin")[1]


@pytest.fixture
def agent(make_staff) -> dict:
    return make_staff("agent.qian", "agent")[1]


def _check(client, headers, model: str, purchase: date | str):
    body = {"model": model, "purchase_date": str(purchase)}
    return client.post("/api/v1/warranty/check", json=body, headers=headers)


def _campaign(client, admin, code: str, model: str, starts: date, **fields) -> dict:
    body = {"code": code, "model": model, "starts_on": str(starts), **TEXTS, **fields}
    response = client.post("/api/v1/recalls", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def _lookup(client, headers, model: str, **unit):
    return client.post("/api/v1/recalls/lookup", json={"model": model, **unit}, headers=headers)


# --- pure logic -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
        (date(2026, 5, 10), 0, date(2026, 5, 10)),
        (date(2026, 1, 31), 36, date(2029, 1, 31)),
    ],
)
def test_add_months_is_calendar_wise(start, months, expected):
    """Month periods end on the same day N months later, clamped to the month end (S7.1)."""
    assert add_months(start, months) == expected


LO, HI = "TV65-2401-00100", "TV65-2401-00500"


@pytest.mark.parametrize(
    ("serial", "inside"),
    [
        ("TV65-2401-00099", False),  # just below
        ("TV65-2401-00100", True),  # at lo
        ("TV65-2401-00250", True),  # inside
        ("tv65 2401 00250", True),  # case, spaces and hyphens do not matter
        ("TV65-2401-00500", True),  # at hi
        ("TV65-2401-00501", False),  # just above
        ("TX65-2401-00250", False),  # another prefix
        ("TV65-2401-0250", False),  # shorter number sorts before the range
        ("TV65-2401-000250", False),  # longer number sorts after it
        ("00250", False),  # no prefix
    ],
)
def test_serial_in_range(serial, inside):
    """Same prefix, then (length, value) of the trailing number; both ends included (S8.3)."""
    assert serial_in_range(serial, LO, HI) is inside


def test_serial_numbers_compare_by_length_then_value():
    assert serial_in_range("AC100", "AC99", "AC100")
    assert serial_in_range("AC99", "AC9", "AC100")
    assert not serial_in_range("AC1000", "AC99", "AC100")


# --- eligibility with a fixed "today" (month boundaries, month-end purchases) -----------


@pytest.fixture
def month_product(db) -> str:
    """Free repair 1 month, warranty 3 months: short enough to test month ends."""
    with db.writer() as session:
        fields = {k: v for k, v in PRODUCT.items() if k != "model"}
        catalogue.create_product(session, SYSTEM, PRODUCT["model"], fields)
    return PRODUCT["model"]


@pytest.mark.parametrize(
    ("purchase", "today", "free_repair", "in_warranty"),
    [
        # bought on the last day of January: repair until 28 Feb, warranty until 30 Apr
        (date(2026, 1, 31), date(2026, 2, 28), True, True),
        (date(2026, 1, 31), date(2026, 3, 1), False, True),
        (date(2026, 1, 31), date(2026, 4, 30), False, True),
        (date(2026, 1, 31), date(2026, 5, 1), False, False),
        # mid-month: the same day one / three months later is the last covered day
        (date(2026, 5, 15), date(2026, 6, 15), True, True),
        (date(2026, 5, 15), date(2026, 6, 16), False, True),
        (date(2026, 5, 15), date(2026, 8, 15), False, True),
        (date(2026, 5, 15), date(2026, 8, 16), False, False),
        # leap year: 31 Jan + 1 month = 29 Feb
        (date(2028, 1, 31), date(2028, 2, 29), True, True),
        (date(2028, 1, 31), date(2028, 3, 1), False, True),
    ],
)
def test_month_period_boundaries(db, month_product, purchase, today, free_repair, in_warranty):
    """Free repair and warranty end inclusively on the calendar-month boundary (S7.1)."""
    with db.reader() as session:
        result = catalogue.check_eligibility(session, month_product, purchase, today)
    assert result.free_repair is free_repair
    assert result.in_warranty is in_warranty
    assert result.free_repair_until == add_months(purchase, 1)
    assert result.warranty_until == add_months(purchase, 3)
    assert not result.return_eligible and not result.exchange_eligible


def test_twelve_month_repair_from_a_leap_day(db):
    """Demo air conditioner: 12 months' free repair from 29 Feb ends on 28 Feb (S7.1)."""
    leap_day = date(2024, 2, 29)
    with db.reader() as session:
        last = catalogue.check_eligibility(session, "KFR-35GW", leap_day, date(2025, 2, 28))
        after = catalogue.check_eligibility(session, "KFR-35GW", leap_day, date(2025, 3, 1))
    assert last.free_repair and last.free_repair_until == date(2025, 2, 28)
    assert not after.free_repair and after.in_warranty
    assert after.warranty_until == date(2030, 2, 28)
    assert "厂家保修期" in after.summary_zh and "manufacturer's warranty" in after.summary_en


# --- eligibility over HTTP (day boundaries relative to today) ---------------------------


@pytest.mark.parametrize(
    ("days", "returnable", "exchangeable"),
    [(0, True, True), (7, True, True), (8, False, True), (15, False, True), (16, False, False)],
)
def test_day_period_boundaries(client, service_headers, today, days, returnable, exchangeable):
    """Day 0 is the purchase day; day 7 may still return, day 15 still exchange (S7.1)."""
    purchase = today - timedelta(days=days)
    response = _check(client, service_headers, "KFR-35GW", purchase)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days_since_purchase"] == days
    assert body["return_eligible"] is returnable
    assert body["exchange_eligible"] is exchangeable
    assert body["free_repair"] is True and body["in_warranty"] is True
    assert body["return_until"] == str(purchase + timedelta(days=7))
    assert body["exchange_until"] == str(purchase + timedelta(days=15))
    assert body["model"] == "KFR-35GW" and body["purchase_date"] == str(purchase)


def test_summaries_name_the_strongest_right(client, service_headers, today):
    """The customer sentence exists in zh and en and names the right that holds (S7.1)."""
    body = _check(client, service_headers, "KFR-35GW", today).json()
    until = today + timedelta(days=7)
    assert "可退货、换货或免费维修" in body["summary_zh"]
    assert f"{until.year}年{until.month}月{until.day}日" in body["summary_zh"]
    assert (
        "returned, exchanged or repaired" in body["summary_en"] and str(until) in body["summary_en"]
    )
    body = _check(client, service_headers, "KFR-35GW", today - timedelta(days=10)).json()
    assert "退货期已过" in body["summary_zh"] and "can no longer be returned" in body["summary_en"]
    body = _check(client, service_headers, "KFR-35GW", today - timedelta(days=30)).json()
    assert "可免费维修" in body["summary_zh"] and "repaired free of charge" in body["summary_en"]


def test_out_of_warranty(client, service_headers):
    body = _check(client, service_headers, "kfr 35gw", "2010-06-01").json()
    assert body["model"] == "KFR-35GW"
    assert not body["in_warranty"] and not body["free_repair"] and not body["return_eligible"]
    assert body["warranty_until"] == "2016-06-01"
    assert "付费维修" in body["summary_zh"] and "paid repair" in body["summary_en"]


def test_future_purchase_date_is_422(client, service_headers, today):
    response = _check(client, service_headers, "KFR-35GW", today + timedelta(days=1))
    assert response.status_code == 422
    assert "future" in response.json()["detail"]


def test_unknown_model_is_404(client, service_headers, today):
    response = _check(client, service_headers, "NO-SUCH-1", today)
    assert response.status_code == 404
    assert "NO-SUCH-1" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "KFR-35GW"},
        {"purchase_date": "2026-01-01"},
        {"model": "KFR-35GW", "purchase_date": "2026-02-30"},
        {"model": "KFR-35GW", "purchase_date": "yesterday"},
        {"model": "", "purchase_date": "2026-01-01"},
        {"model": "KFR-35GW", "purchase_date": "2026-01-01", "serial": "x"},
    ],
)
def test_bad_warranty_bodies_are_422(client, service_headers, body):
    response = client.post("/api/v1/warranty/check", json=body, headers=service_headers)
    assert response.status_code == 422


def test_staff_may_check_warranty_and_anonymous_may_not(client, agent, today):
    assert _check(client, agent, "KFR-35GW", today).status_code == 200
    assert _check(client, {}, "KFR-35GW", today).status_code == 401


# --- products ---------------------------------------------------------------------------


def test_demo_catalogue(client, service_headers):
    """The embedded default ships a catalogue across eight categories and two recalls."""
    products = client.get("/api/v1/products", headers=service_headers).json()
    assert len(products) == 8
    assert {p["category"] for p in products} == {
        "air_conditioner",
        "washing_machine",
        "refrigerator",
        "water_heater",
        "tv",
        "range_hood",
        "dishwasher",
        "water_purifier",
    }
    heaters = client.get(
        "/api/v1/products", params={"category": "water_heater"}, headers=service_headers
    ).json()
    assert [p["model"] for p in heaters] == ["JSQ25-13WH"]
    recalls = client.get("/api/v1/recalls", headers=service_headers).json()
    assert {r["code"] for r in recalls} == {"RC-2026-001", "RC-2026-002"}
    by_serial = next(r for r in recalls if r["code"] == "RC-2026-001")
    assert by_serial["model"] == "JSQ25-13WH" and by_serial["serial_from"]
    assert next(r for r in recalls if r["code"] == "RC-2026-002")["batches"]


def test_seed_demo_is_idempotent(db):
    with db.writer() as session:
        catalogue.seed_demo(session)
        session.commit()
        assert len(catalogue.list_products(session)) == 8
        assert len(catalogue.list_campaigns(session)) == 2


def test_get_product(client, agent):
    body = client.get("/api/v1/products/JSQ25-13WH", headers=agent).json()
    assert body["name_zh"] == "13升燃气热水器" and body["warranty_months"] == 36
    assert body["return_days"] == 7 and body["exchange_days"] == 15 and body["repair_months"] == 12
    assert client.get("/api/v1/products/jsq2513wh", headers=agent).json()["model"] == "JSQ25-13WH"
    missing = client.get("/api/v1/products/NOPE-1", headers=agent)
    assert missing.status_code == 404 and "NOPE-1" in missing.json()["detail"]


def test_admin_creates_and_updates_a_product(client, admin, db):
    """Admin-only catalogue changes are recorded in the audit trail (S11.2)."""
    body = {**PRODUCT, "model": "KFR-72LW/BP"}
    created = client.post("/api/v1/products", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["model"] == "KFR-72LW/BP"
    assert client.get("/api/v1/products/KFR-72LW/BP", headers=admin).status_code == 200

    update = {k: v for k, v in body.items() if k != "model"} | {"warranty_months": 24}
    updated = client.put("/api/v1/products/KFR-72LW/BP", json=update, headers=admin)
    assert updated.status_code == 200, updated.text
    assert updated.json()["warranty_months"] == 24
    with db.reader() as session:
        events = {e.action: e.data for e in session.scalars(select(Event))}
    assert events["product_created"]["model"] == "KFR-72LW/BP"
    assert events["product_updated"]["changes"] == {"warranty_months": [3, 24]}


def test_duplicate_model_is_409(client, admin):
    for model in ("KFR-35GW", "kfr35gw"):
        response = client.post("/api/v1/products", json={**PRODUCT, "model": model}, headers=admin)
        assert response.status_code == 409
        assert "KFR-35GW" in response.json()["detail"]


def test_update_unknown_product_is_404(client, admin):
    body = {k: v for k, v in PRODUCT.items() if k != "model"}
    assert client.put("/api/v1/products/NOPE-1", json=body, headers=admin).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"model": ""},
        {"model": "BAD MODEL!"},
        {"category": "Air Conditioner"},
        {"warranty_months": 0},
        {"return_days": -1},
        {"name_zh": ""},
        {"colour": "white"},
        {"return_days": 20},  # return period longer than the exchange period
        {"exchange_days": 60},  # exchange period outside a one-month repair period
        {"repair_months": 6},  # free repair longer than the warranty
    ],
)
def test_bad_product_bodies_are_422(client, admin, change):
    response = client.post("/api/v1/products", json={**PRODUCT, **change}, headers=admin)
    assert response.status_code == 422, response.text


def test_bad_update_is_422(client, admin):
    body = {k: v for k, v in PRODUCT.items() if k != "model"} | {"return_days": 30}
    assert client.put("/api/v1/products/KFR-35GW", json=body, headers=admin).status_code == 422


def test_product_role_boundaries(client, make_staff, service_headers):
    """Only admins change the catalogue; everyone authenticated reads it (S11.2)."""
    _, supervisor = make_staff("sup.sun", "supervisor")
    _, agent = make_staff("agent.li", "agent")
    update = {k: v for k, v in PRODUCT.items() if k != "model"}
    for headers in (agent, supervisor, service_headers):
        assert client.post("/api/v1/products", json=PRODUCT, headers=headers).status_code == 403
        assert (
            client.put("/api/v1/products/KFR-35GW", json=update, headers=headers).status_code == 403
        )
        assert client.get("/api/v1/products", headers=headers).status_code == 200
    assert client.get("/api/v1/products").status_code == 401
    assert client.get("/api/v1/products/KFR-35GW").status_code == 401
    assert client.post("/api/v1/products", json=PRODUCT).status_code == 401


# --- recalls ----------------------------------------------------------------------------


def test_recall_by_serial_range(client, admin, service_headers, today):
    """Lookup by serial: below, at lo, inside, at hi, above, other prefix (S8.3)."""
    created = _campaign(
        client, admin, "RC-T-01", "65E3N", today - timedelta(days=10), serial_from=LO, serial_to=HI
    )
    assert created["model"] == "65E3N" and created["serial_from"] == LO
    cases = {
        "TV65-2401-00099": False,
        LO: True,
        "tv65 2401 00250": True,
        HI: True,
        "TV65-2401-00501": False,
        "TX65-2401-00250": False,
    }
    for serial, affected in cases.items():
        body = _lookup(client, service_headers, "65E3N", serial=serial).json()
        assert body["affected"] is affected, serial
        if affected:
            [hit] = body["campaigns"]
            assert hit["code"] == "RC-T-01" and hit["matched_by"] == "serial"
            assert hit["notice_zh"] == TEXTS["notice_zh"]
            assert hit["notice_en"] == TEXTS["notice_en"]
            assert hit["remedy_en"] and hit["hazard_zh"]
        else:
            assert body["campaigns"] == [] and body["missing"] == []


def test_recall_without_serial_asks_for_it(client, admin, service_headers, today):
    _campaign(client, admin, "RC-T-02", "65E3N", today, serial_from=LO, serial_to=HI)
    body = _lookup(client, service_headers, "65E3N").json()
    assert body == {"model": "65E3N", "affected": False, "campaigns": [], "missing": ["serial"]}


def test_recall_by_batch(client, admin, agent, today):
    _campaign(client, admin, "RC-T-03", "XQG100-B14", today, batches=["2026-W10", "2026W11"])
    hit = _lookup(client, agent, "xqg100-b14", batch="2026w10").json()
    assert hit["affected"] is True and hit["model"] == "XQG100-B14"
    assert hit["campaigns"][0]["matched_by"] == "batch"
    assert _lookup(client, agent, "XQG100-B14", batch="2026W11").json()["affected"] is True
    miss = _lookup(client, agent, "XQG100-B14", batch="2026W12").json()
    assert miss["affected"] is False and miss["missing"] == []
    assert _lookup(client, agent, "XQG100-B14").json()["missing"] == ["batch"]


def test_recall_without_ranges_covers_every_unit(client, admin, service_headers, today):
    _campaign(client, admin, "RC-T-04", "CXW-260-E610", today - timedelta(days=1))
    for unit in ({}, {"serial": "ANY-1"}, {"batch": "X1"}):
        body = _lookup(client, service_headers, "CXW-260-E610", **unit).json()
        assert body["affected"] is True
        assert [c["matched_by"] for c in body["campaigns"]] == ["model"]


def test_recall_dates_bound_the_campaign(client, admin, service_headers, today):
    """Active means starts_on <= today <= ends_on, both ends included (S8.3)."""
    model = "BCD-470WTPZM"
    _campaign(client, admin, "RC-T-FUT", model, today + timedelta(days=1))
    _campaign(
        client,
        admin,
        "RC-T-OLD",
        model,
        today - timedelta(days=30),
        ends_on=str(today - timedelta(days=1)),
    )
    assert _lookup(client, service_headers, model).json()["affected"] is False
    _campaign(client, admin, "RC-T-NOW", model, today, ends_on=str(today))
    body = _lookup(client, service_headers, model).json()
    assert [c["code"] for c in body["campaigns"]] == ["RC-T-NOW"]


def test_recall_lookup_unknown_model_is_404(client, service_headers):
    response = _lookup(client, service_headers, "NOPE-9", serial="A1")
    assert response.status_code == 404
    assert "NOPE-9" in response.json()["detail"]


def test_list_recalls_by_model(client, admin, agent, today):
    _campaign(client, admin, "rc-t-05", "65E3N", today)
    listed = client.get("/api/v1/recalls", params={"model": "65E3N"}, headers=agent).json()
    assert [c["code"] for c in listed] == ["RC-T-05"]
    response = client.get("/api/v1/recalls", params={"model": "NOPE-1"}, headers=agent)
    assert response.status_code == 404


def test_create_recall_is_audited_and_unique(client, admin, db, today):
    _campaign(client, admin, "RC-T-06", "65E3N", today, batches=["B1"])
    again = {"code": "rc-t-06", "model": "65E3N", "starts_on": str(today), **TEXTS}
    response = client.post("/api/v1/recalls", json=again, headers=admin)
    assert response.status_code == 409 and "RC-T-06" in response.json()["detail"]
    with db.reader() as session:
        event = session.scalar(select(Event).where(Event.action == "recall_created"))
    assert event.data["code"] == "RC-T-06" and event.data["batches"] == ["B1"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"serial_from": HI, "serial_to": LO}, 422),  # serial_from after serial_to
        ({"serial_from": LO}, 422),  # half a range
        ({"serial_from": "TV65-0001", "serial_to": "TX65-0009"}, 422),  # prefixes differ
        ({"ends_on": "2020-01-01"}, 422),  # ends before it starts
        ({"model": "NOPE-1"}, 404),
        ({"hazard_zh": ""}, 422),
        ({"code": "x"}, 422),
        ({"starts_on": "soon"}, 422),
        ({"batches": "B1"}, 422),
    ],
)
def test_bad_recall_bodies(client, admin, change, status):
    body = {"code": "RC-T-07", "model": "65E3N", "starts_on": "2026-01-01", **TEXTS, **change}
    response = client.post("/api/v1/recalls", json=body, headers=admin)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "body",
    [{}, {"serial": "A1"}, {"model": "65E3N", "serial": "A" * 65}, {"model": "65E3N", "x": 1}],
)
def test_bad_lookup_bodies_are_422(client, service_headers, body):
    response = client.post("/api/v1/recalls/lookup", json=body, headers=service_headers)
    assert response.status_code == 422


def test_recall_role_boundaries(client, agent, service_headers, today):
    body = {"code": "RC-T-08", "model": "65E3N", "starts_on": str(today), **TEXTS}
    assert client.post("/api/v1/recalls", json=body, headers=agent).status_code == 403
    assert client.post("/api/v1/recalls", json=body, headers=service_headers).status_code == 403
    assert client.post("/api/v1/recalls", json=body).status_code == 401
    assert client.get("/api/v1/recalls").status_code == 401
    assert _lookup(client, {}, "65E3N").status_code == 401
    assert _lookup(client, agent, "65E3N").status_code == 200
