"""Degraded mode end to end (issue #4 §5, S5.6): the embedded default as `make run` starts
it (the API with the gateway mounted, the action server, Rasa with the trained model);
Rasa is killed mid-conversation and started again."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from bot.channels.web import external_id_of
from tests import processes
from tests.widget_client import widget

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[processes.Stack]:
    if not processes.MODEL.exists():
        pytest.fail(f"no trained model at {processes.MODEL}: run `make train`")
    with processes.stack(tmp_path_factory.mktemp("var")) as running:
        yield running


def test_rasa_killed_mid_conversation_then_restarted(stack, tmp_path):
    ws_url = stack.api_url.replace("http://", "ws://") + "/channels/web/ws"
    rasa = stack.pids["rasa"]
    with widget(ws_url) as customer, processes.service_client(stack) as api:
        session = customer.hello()["session"]
        _, replies = customer.say("你好")
        assert replies and replies[0]["from"] == "bot"  # the assistant answers

        os.kill(rasa, signal.SIGKILL)  # the dialogue engine crashes
        ack, [told] = customer.say("我要投诉，洗衣机漏水把地板泡了")
        assert ack["message_id"] and not ack["kept"]
        assert told["from"] == "system" and "400-800-1234" in told["text"]

        conversation = api.get(f"/conversations/by-channel/web/{external_id_of(session)}").json()
        assert conversation["mode"] == "waiting"  # queued for an agent
        assert conversation["handoff_reason"] == "assistant_unavailable"
        log = api.get(f"/conversations/{conversation['id']}/messages").json()
        texts = [(m["sender"], m["text"]) for m in log]
        assert ("customer", "你好") in texts
        assert texts[-2:] == [
            ("customer", "我要投诉，洗衣机漏水把地板泡了"),  # nothing lost
            ("system", told["text"]),
        ]

        with processes.rasa_server(stack, tmp_path / "rasa-again.log"):
            with widget(ws_url) as newcomer:  # a new customer talks to the bot again
                newcomer.hello()
                _, replies = newcomer.say("你好")
                assert replies and replies[0]["from"] == "bot"
            ack, replies = customer.say("还在吗？")  # the queued one waits for the agent
            assert ack["message_id"] and replies == []
            still = api.get(f"/conversations/{conversation['id']}").json()
            assert still["mode"] == "waiting"

            _agent_takes_and_ends(stack, conversation["id"], "我们已收到您的投诉，马上处理。")
            pushed = customer.frame()
            assert pushed["message"]["from"] == "agent"
            assert pushed["message"]["text"] == "我们已收到您的投诉，马上处理。"
            _, replies = customer.say("你好")  # back with the bot after the agent ended it
            assert replies and replies[0]["from"] == "bot"


def _agent_takes_and_ends(stack: processes.Stack, conversation_id: int, text: str) -> None:
    with processes.staff_client(stack, "lead", "supervisor", "correct-horse-9") as lead:
        lead.post(f"/conversations/{conversation_id}/claim").raise_for_status()
        lead.post(f"/conversations/{conversation_id}/messages", json={"text": text})
        lead.post(f"/conversations/{conversation_id}/release").raise_for_status()
