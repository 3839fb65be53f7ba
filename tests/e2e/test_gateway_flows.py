"""The gateway end to end, in the embedded default as `make run` starts it (the API with the
gateway mounted, the action server, Rasa with the trained model), a customer in the web
channel: the handoff and the hand-back with the rating asked for (issue #5, S4.6, S9.2),
and degraded mode — Rasa killed mid-conversation and started again (issue #4, S5.6)."""

from __future__ import annotations

import os
import re
import signal

import pytest

from bot.channels.web import external_id_of
from tests import processes
from tests.widget_client import widget

pytestmark = pytest.mark.slow


REF = re.compile(r"CS-\d{8}-\d{4,}")


def test_handoff_then_back_to_the_bot_which_asks_for_the_rating(stack):
    ws_url = stack.api_url.replace("http://", "ws://") + "/channels/web/ws"
    with (
        processes.staff_client(stack, "agent-wang", "supervisor", "correct-horse-9") as agent,
        processes.service_client(stack) as api,
        widget(ws_url) as customer,
    ):
        agent.put("/staff/me/availability", json={"available": True}).raise_for_status()
        session = customer.hello()["session"]
        replies = []
        for text in ("我要投诉", "洗衣机", "洗衣机脱水的时候声音特别大", "昨天", "要求换新",
                     "13800138000", "对"):  # fmt: skip
            _, replies = customer.say(text)
        ref = REF.search(" ".join(r["text"] or "" for r in replies)).group()
        _, replies = customer.say("转人工")
        conversation = api.get(f"/conversations/by-channel/web/{external_id_of(session)}").json()
        assert conversation["mode"] == "waiting", replies
        assert conversation["ticket_ref"] == ref  # the agent sees the ticket the bot opened

        agent.post(f"/conversations/{conversation['id']}/claim").raise_for_status()
        agent.post(
            f"/conversations/{conversation['id']}/messages", json={"text": "已为您安排换新"}
        ).raise_for_status()
        assert customer.frame()["message"]["text"] == "已为您安排换新"
        for action in ("acknowledge", "investigate"):
            agent.post(f"/tickets/{ref}/transitions", json={"action": action}).raise_for_status()
        agent.post(
            f"/tickets/{ref}/transitions",
            json={"action": "resolve", "resolution": "上门更换新机 / replaced with a new unit"},
        ).raise_for_status()
        agent.post(f"/conversations/{conversation['id']}/release").raise_for_status()

        asked = customer.frame(timeout=20)  # the bot's turn again: the rating question
        assert asked["message"]["from"] == "bot"
        assert "打分" in asked["message"]["text"], asked
        _, replies = customer.say("5")
        _, replies = customer.say("师傅很专业")
        ticket = api.get(f"/tickets/{ref}").json()
    assert ticket["feedback"]["rating"] == 5, replies
    assert ticket["status"] == "closed"  # a good rating accepts the resolution (S6.4)


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
