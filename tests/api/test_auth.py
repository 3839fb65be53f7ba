"""Access (issue #2 §10): service token, staff login, roles; nothing public (S11.2)."""

from tests.conftest import PASSWORD


def test_health_is_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_login_and_me(client, make_staff):
    _, headers = make_staff("li.na", "supervisor", team="north")
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["username"] == "li.na" and me["role"] == "supervisor" and me["team"] == "north"


def test_wrong_password_is_401(client, make_staff):
    make_staff("wang")
    response = client.post("/api/v1/auth/token", data={"username": "wang", "password": "nope"})
    assert response.status_code == 401
    assert (
        client.post(
            "/api/v1/auth/token", data={"username": "ghost", "password": PASSWORD}
        ).status_code
        == 401
    )


def test_garbage_token_is_401(client):
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer xyz"})
    assert response.status_code == 401


def test_service_token_is_not_staff(client, service_headers):
    assert client.get("/api/v1/auth/me", headers=service_headers).status_code == 403
