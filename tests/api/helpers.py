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
