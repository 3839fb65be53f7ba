"""Concurrency over real HTTP (issue #2 §12): unique references and idempotent retries
under load, on both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from api.models import Event, Ticket
from api.services import audit
from tests.api.helpers import COMPLAINT
from tests.conftest import SERVICE_TOKEN

HEADERS = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def _post_many(url: str, bodies: list[dict], headers: list[dict], workers: int) -> list:
    with httpx.Client(base_url=url, timeout=60) as http, ThreadPoolExecutor(workers) as pool:
        return list(
            pool.map(lambda b, h: http.post("/api/v1/tickets", json=b, headers=h), bodies, headers)
        )


def test_200_concurrent_creations_get_200_unique_references(live_server, db):
    n = 200
    bodies = [{**COMPLAINT, "customer": {"name": "客户", "phone": f"139{i:08d}"}} for i in range(n)]
    responses = _post_many(live_server, bodies, [HEADERS] * n, workers=32)
    assert [r.status_code for r in responses] == [201] * n
    refs = {r.json()["ref"] for r in responses}
    assert len(refs) == n
    with db.reader() as session:
        assert session.scalar(select(func.count(Ticket.id))) == n
        assert session.scalar(select(func.count(Event.id))) >= 2 * n
        assert audit.verify(session)["ok"] is True  # the chain survived concurrent appends


def test_concurrent_retries_with_one_key_make_one_ticket(live_server, db):
    headers = [{**HEADERS, "Idempotency-Key": "retry-storm-1"}] * 20
    responses = _post_many(live_server, [COMPLAINT] * 20, headers, workers=20)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["ref"] for r in responses}) == 1
    with db.reader() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 1
