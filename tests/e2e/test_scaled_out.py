"""Scaled out (issue #4 §1): PostgreSQL, Redis, the API without a gateway of its own and two
gateways in processes of their own, sharing the bus and their state through Redis — as
docs/operations.md describes it. One customer's agent reply reaches the gateway that holds
the customer's socket; a message taken while the API does not answer is spooled in Redis
and replayed once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from bot.channels.web import external_id_of
from tests import processes
from tests.conftest import postgres_database, require_postgres
from tests.widget_client import widget

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    require_postgres()
    with postgres_database("servicedesk_scaled") as url:
        yield url


@pytest.fixture(scope="module")
def stack(tmp_path_factory, database_url) -> Iterator[processes.Stack]:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL} (required under CI)")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        "REDIS_URL": REDIS_URL,
        "EMBED_GATEWAY": "false",
        "API_TIMEOUT": "2",
        "SPOOL_RETRY_SECONDS": "0.5",
    }
    var = tmp_path_factory.mktemp("var")
    with processes.stack(var, database_url=database_url, extra_env=env) as running:
        yield running


@pytest.fixture(scope="module")
def gateways(stack, tmp_path_factory) -> Iterator[tuple[str, str]]:
    logs = tmp_path_factory.mktemp("gateways")
    with (
        processes.gateway(stack, logs / "gateway-1.log") as first,
        processes.gateway(stack, logs / "gateway-2.log") as second,
    ):
        yield (ws_url(first), ws_url(second))


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/channels/web/ws"


def wait_for(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return result


def test_the_api_serves_no_channels_of_its_own(stack):
    import httpx

    assert httpx.get(f"{stack.api_url}/widget.js").status_code == 404


def test_agent_reply_reaches_the_gateway_holding_the_socket(stack, gateways):
    first, second = gateways
    with (
        processes.staff_client(stack, "lead", "supervisor", "correct-horse-9") as lead,
        processes.service_client(stack) as api,
        widget(first) as customer,
        widget(second) as bystander,
    ):
        lead.put("/staff/me/availability", json={"available": True}).raise_for_status()
        session = customer.hello()["session"]
        bystander.hello()
        _, replies = customer.say("你好")
        assert replies and replies[0]["from"] == "bot"
        _, replies = customer.say("转人工")
        conversation = api.get(f"/conversations/by-channel/web/{external_id_of(session)}").json()
        assert conversation["mode"] == "waiting", replies

        lead.post(f"/conversations/{conversation['id']}/claim").raise_for_status()
        sent = lead.post(
            f"/conversations/{conversation['id']}/messages", json={"text": "您好，我来帮您处理"}
        ).json()
        pushed = customer.frame(timeout=10)
        assert pushed["message"] == {
            "id": sent["id"],
            "from": "agent",
            "text": "您好，我来帮您处理",
            "buttons": [],
        }
        with pytest.raises(TimeoutError):
            bystander.frame(timeout=1)  # another customer hears nothing

        def delivered() -> bool:
            log = api.get(f"/conversations/{conversation['id']}/messages").json()
            return next(m for m in log if m["id"] == sent["id"])["delivered_at"] is not None

        wait_for(delivered)

    with widget(second) as customer:  # the session is the customer's, whichever gateway
        history = customer.hello(session=session)["history"]
    assert history[-1]["text"] == "您好，我来帮您处理"


def test_api_not_answering_message_spooled_in_redis_and_replayed(stack, gateways):
    _first, second = gateways
    with widget(second) as customer, processes.service_client(stack) as api:
        session = customer.hello()["session"]
        _, replies = customer.say("你好")
        assert replies and replies[0]["from"] == "bot"
        os.kill(stack.pids["api"], signal.SIGSTOP)  # the API hangs
        try:
            ack, [told] = customer.say("空调不制冷了，能派人来修吗")
        finally:
            os.kill(stack.pids["api"], signal.SIGCONT)
        assert ack["kept"] is True and ack["message_id"] is None
        assert "系统恢复后会自动登记" in told["text"]

        def queued() -> dict | None:
            found = api.get(f"/conversations/by-channel/web/{external_id_of(session)}").json()
            return found if found["mode"] == "waiting" else None

        conversation = wait_for(queued)
        assert conversation["handoff_reason"] == "service_interrupted"

        def replayed() -> list | None:  # the replay hands off, then logs what was said
            log = api.get(f"/conversations/{conversation['id']}/messages").json()
            return log if log[-1]["text"] == told["text"] else None

        log = wait_for(replayed)
    inbound = [m["text"] for m in log if m["direction"] == "in"]
    assert inbound == ["你好", "空调不制冷了，能派人来修吗"]  # once, in order
    assert redis.Redis.from_url(REDIS_URL).xlen("servicedesk:gateway:spool") == 0
