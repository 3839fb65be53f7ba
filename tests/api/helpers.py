"""Small builders shared by the API tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

COMPLAINT = {
    "kind": "complaint",
    "description": "洗衣机脱水时噪音很大，师傅上门后没有解决。",
    "customer": {"name": "王小明", "phone": "13800138000"},
    "channel": "web",
}


def create_ticket(client: TestClient, headers: dict, **overrides) -> dict:
    body = {**COMPLAINT, **overrides}
    response = client.post("/api/v1/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def act(client: TestClient, headers: dict, ref: str, action: str, **fields):
    return client.post(
        f"/api/v1/tickets/{ref}/transitions", json={"action": action, **fields}, headers=headers
    )


STEPS = {
    "complaint": ("acknowledge", "investigate", "resolve"),
    "inquiry": ("acknowledge", "investigate", "resolve"),
    "repair": ("acknowledge", "schedule", "start", "resolve"),
}


def delivered(
    client: TestClient,
    service_headers: dict,
    handler: tuple[int, dict],
    kind: str = "complaint",
    close: bool = True,
) -> str:
    """A ticket the `handler` (staff id, headers) took and resolved, closed by the customer
    (through the service client); its reference."""
    handler_id, headers = handler
    ref = create_ticket(client, service_headers, kind=kind)["ref"]
    response = client.post(
        f"/api/v1/tickets/{ref}/assign", json={"staff_id": handler_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    for action in STEPS[kind]:
        fields = {"resolution": "已处理 / handled"} if action == "resolve" else {}
        assert act(client, headers, ref, action, **fields).status_code == 200
    if close:
        assert act(client, service_headers, ref, "close").status_code == 200
    return ref
