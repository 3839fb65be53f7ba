"""The gateway's one inbound path and its degraded mode (issue #4 §1, S5.6, S12.3), through
the web channel's WebSocket: the real API over HTTP (SQLite and PostgreSQL), the gateway
served by uvicorn, a WebSocket client. Rasa is down in these tests (its port is closed):
turns with the real assistant are in the end-to-end tests."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api import bus
from bot.gateway import Gateway, create_app
from bot.settings import GatewaySettings
from tests.conftest import SERVICE_TOKEN
from tests.processes import free_port
from tests.serving import serve
from tests.widget_client import widget

HOTLINE = "400-800-1234"


def gateway_settings(var_dir: Path, api_url: str) -> GatewaySettings:
    """The gateway of a test: no Rasa (a closed port), no Telegram or WeCom."""
    return GatewaySettings(
        var_dir=var_dir,
        api_url=api_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        service_token=SERVICE_TOKEN,
        spool_retry_seconds=0.2,
        redis_url="",
        telegram_bot_token="",
        wecom_corp_id="",
    )


@contextmanager
def running_gateway(settings: GatewaySettings) -> Iterator[tuple[str, Gateway]]:
    """The gateway on its own port, reading the bus of the API app made last."""
    app = create_app(settings, bus=bus.current())
    with serve(app) as url:
        yield url.replace("http://", "ws://") + "/channels/web/ws", app.state.gateway


@pytest.fixture
def gateway(live_server, tmp_path) -> Iterator[tuple[str, Gateway]]:
    with running_gateway(gateway_settings(tmp_path, live_server)) as running:
        yield running


def conversation_of(api: httpx.Client, session: str) -> dict:
    from bot.channels.web import external_id_of

    response = api.get(f"/conversations/by-channel/web/{external_id_of(session)}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(check, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)
    return result


def test_assistant_down_the_customer_is_told_and_queued(gateway, api):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        session = customer.hello()["session"]
        ack, replies = customer.say("我的热水器漏电了")
    assert ack["kept"] is False and ack["message_id"]
    [told] = replies
    assert told["from"] == "system"
    assert "智能客服暂时出现故障" in told["text"] and HOTLINE in told["text"]

    conversation = conversation_of(api, session)
    assert conversation["mode"] == "waiting"  # queued for an agent
    assert conversation["handoff_reason"] == "assistant_unavailable"
    log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert [(m["sender"], m["text"]) for m in log] == [
        ("customer", "我的热水器漏电了"),
        ("system", told["text"]),
    ]
    assert log[1]["delivered_at"] is not None


def test_english_customer_told_in_english_then_waits_for_the_agent(gateway, api):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        customer.hello(language="en")
        _, [told] = customer.say("my fridge stopped cooling")
        assert "technical problem" in told["text"] and HOTLINE in told["text"]
        ack, replies = customer.say("hello? anyone there")
        assert ack["message_id"] and replies == []  # queued: the agent answers, not the bot


def test_a_message_sent_again_is_logged_once(gateway, api):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        session = customer.hello()["session"]
        first, replies = customer.say("你好", message_id="resent-0001")
        again, replies_again = customer.say("你好", message_id="resent-0001")
    assert again["message_id"] == first["message_id"]
    assert len(replies) == 1 and replies_again == []  # not answered twice
    conversation = conversation_of(api, session)
    log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert [m["text"] for m in log if m["direction"] == "in"] == ["你好"]


def _agent_holding(api, make_staff, client, conversation_id: int) -> dict:
    _, agent = make_staff("agent-li", role="agent")
    client.put("/api/v1/staff/me/availability", json={"available": True}, headers=agent)
    claimed = client.post(f"/api/v1/conversations/{conversation_id}/claim", headers=agent)
    assert claimed.status_code == 200, claimed.text
    return agent


def test_agent_reply_reaches_the_open_widget_live(gateway, api, make_staff, client):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        session = customer.hello()["session"]
        customer.say("转人工")
        conversation = conversation_of(api, session)
        agent = _agent_holding(api, make_staff, client, conversation["id"])
        sent = client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "您好，我是客服小李，请问有什么可以帮您？"},
            headers=agent,
        )
        assert sent.status_code == 201, sent.text
        pushed = customer.frame(timeout=5)
    assert pushed["type"] == "message"
    assert pushed["message"]["from"] == "agent"
    assert pushed["message"]["text"] == "您好，我是客服小李，请问有什么可以帮您？"
    message_id = sent.json()["id"]

    def delivered() -> bool:
        log = api.get(f"/conversations/{conversation['id']}/messages").json()
        return next(m for m in log if m["id"] == message_id)["delivered_at"] is not None

    wait_for(delivered)  # reported once the socket took it


def test_offline_customer_gets_the_agent_reply_on_return(gateway, api, make_staff, client):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        session = customer.hello()["session"]
        ack, replies = customer.say("转人工")
    last_seen = replies[-1]["id"]
    conversation = conversation_of(api, session)
    agent = _agent_holding(api, make_staff, client, conversation["id"])
    sent = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "您的问题已登记"},
        headers=agent,
    ).json()
    log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert next(m for m in log if m["id"] == sent["id"])["delivered_at"] is None  # nobody there

    with widget(ws_url) as customer:
        welcome = customer.hello(session=session, after=last_seen)
    assert [(m["from"], m["text"]) for m in welcome["history"]] == [("agent", "您的问题已登记")]
    log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert next(m for m in log if m["id"] == sent["id"])["delivered_at"] is not None

    with widget(ws_url) as customer:  # a reload shows the whole conversation
        history = customer.hello(session=session)["history"]
    assert [m["from"] for m in history] == ["customer", "system", "agent"]
    assert history[0]["id"] == ack["message_id"]


def test_api_down_the_message_is_kept_and_replayed(app, tmp_path):
    """The API does not answer: the gateway spools the message and says so; when the API
    is back the message is logged and the conversation queued for an agent."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    with running_gateway(gateway_settings(tmp_path, api_url)) as (ws_url, _gateway):
        with widget(ws_url) as customer:
            session = customer.hello()["session"]
            ack, [told] = customer.say("空调漏水了，明天能来修吗", message_id="while-down-1")
            assert ack == {
                "type": "ack",
                "id": "while-down-1",
                "message_id": None,
                "kept": True,
                "replies": 1,
            }
            assert "系统恢复后会自动登记" in told["text"] and HOTLINE in told["text"]
            again, _ = customer.say("空调漏水了，明天能来修吗", message_id="while-down-1")
            assert again["kept"] is True

        with (
            serve(app, port=port),  # the API is back
            httpx.Client(
                base_url=f"{api_url}/api/v1", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}
            ) as api,
        ):

            def replayed() -> dict | None:
                found = api.get(f"/conversations/by-channel/web/{_external(session)}")
                if found.status_code != 200 or found.json()["mode"] != "waiting":
                    return None
                return found.json()

            conversation = wait_for(replayed)
            wait_for(lambda: _spool_empty(tmp_path))
            log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert conversation["handoff_reason"] == "service_interrupted"
    # the message sent twice while the API was down is logged once, and what the customer
    # was told each time beside it
    assert [(m["sender"], m["text"]) for m in log] == [
        ("customer", "空调漏水了，明天能来修吗"),
        ("system", told["text"]),
        ("system", told["text"]),
    ]


def _external(session: str) -> str:
    from bot.channels.web import external_id_of

    return external_id_of(session)


def _spool_empty(var_dir: Path) -> bool:
    with sqlite3.connect(var_dir / "gateway.db") as db:
        return db.execute("SELECT count(*) FROM spool").fetchone()[0] == 0


def test_bad_frames_get_clear_errors_and_the_socket_stays_usable(gateway):
    ws_url, _ = gateway
    with widget(ws_url) as customer:
        customer.socket.send(json.dumps({"type": "message", "id": "x", "text": "hi"}))
        refused = customer.frame()
        assert refused["type"] == "error"
        assert "say hello first" in refused["error"]
    with widget(ws_url) as customer:
        customer.hello()
        cases = [
            ({"type": "message", "text": "hi"}, "needs an id"),
            ({"type": "message", "id": "abcdefgh2", "text": "  "}, "needs a text"),
            ({"type": "message", "id": "abcdefgh3", "text": "长" * 4097}, "at most 4096"),
            ({"type": "shout"}, "unknown frame type"),
        ]
        for frame, error in cases:
            customer.socket.send(json.dumps(frame))
            answer = customer.frame()
            assert answer["type"] == "error" and error in answer["error"], answer
        customer.socket.send("not json")
        assert "JSON object" in customer.frame()["error"]
        ack, _ = customer.say("还在吗")  # the socket still works
        assert ack["message_id"]
