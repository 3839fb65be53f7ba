"""The WeCom channel (issue #4 §4): 微信客服 and the self-built app against the double of
WeCom's API on 127.0.0.1, the gateway served by uvicorn, the real API (SQLite and
PostgreSQL). Rasa is down here (a closed port): the bot's turns answer with the honest
notice, and buttons are sent as the delivery of the API's messages sends them
(`WecomChannel.send`). The end-to-end test with the real assistant is last."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from api import bus
from bot.api_client import ApiClient
from bot.channels.wecom import WecomChannel
from bot.channels.wecom_crypto import WecomCrypto
from bot.gateway import create_app
from bot.messages import Button, Reply
from bot.rasa_client import RasaClient
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import SqliteState
from tests import processes
from tests.bot.doubles.wecom import OPEN_KFID, WecomApi
from tests.bot.test_gateway import gateway_settings
from tests.serving import serve

HOTLINE = "400-800-1234"
CURSOR = f"wecom:cursor:{OPEN_KFID}"


def wecom_settings(var_dir: Path, api_url: str, double: WecomApi) -> GatewaySettings:
    fields = {name.lower(): value for name, value in double.env.items()}
    return gateway_settings(var_dir, api_url).model_copy(update=fields)


@pytest.fixture
def double() -> Iterator[WecomApi]:
    with WecomApi.running() as running:
        yield running


@contextmanager
def gateway_for(double: WecomApi, var_dir: Path, api_url: str) -> Iterator[str]:
    """A gateway with the WeCom channel; the double calls it back."""
    with serve(create_app(wecom_settings(var_dir, api_url, double), bus=bus.current())) as url:
        double.callback_url = f"{url}/channels/wecom/callback"
        yield url


@pytest.fixture
def wecom(double, live_server, tmp_path) -> Iterator[WecomApi]:
    with gateway_for(double, tmp_path, live_server):
        yield double


def log(api: httpx.Client, external_id: str) -> list[dict]:
    found = api.get(f"/conversations/by-channel/wecom/{external_id}").json()
    return api.get(f"/conversations/{found['id']}/messages").json()


def inbound(api: httpx.Client, external_id: str) -> list[dict]:
    return [m for m in log(api, external_id) if m["direction"] == "in"]


def stored(var_dir: Path, key: str) -> str | None:
    with sqlite3.connect(var_dir / "gateway.db") as db:
        found = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return found and found[0]


def send_as_delivery(settings: GatewaySettings, external_id: str, replies: Sequence[Reply]):
    """What the gateway's delivery of a logged message does: `send` on a channel (a second
    one, on the gateway's state file)."""

    async def send() -> None:
        state = SqliteState(settings.var_dir / "gateway.db")
        router = Router(settings, ApiClient(settings), RasaClient(settings), state)
        channel = WecomChannel(settings, router, state)
        try:
            await channel.send(external_id, replies)
        finally:
            await channel.stop()
            await router.api.aclose()
            await router.rasa.aclose()
            await state.aclose()

    asyncio.run(send())


# ------------------------------------------------------------------ callbacks


def test_the_callback_url_is_verified(wecom):
    echo = wecom.crypto.encrypt("verify-7741")
    query = {"timestamp": "1700000000", "nonce": "n1", "echostr": echo}
    signed = {**query, "msg_signature": wecom.crypto.signature("1700000000", "n1", echo)}
    answer = httpx.get(f"{wecom.callback_url}?{urlencode(signed)}")
    assert (answer.status_code, answer.text) == (200, "verify-7741")
    assert answer.headers["content-type"].startswith("text/plain")
    forged = httpx.get(f"{wecom.callback_url}?{urlencode({**query, 'msg_signature': 'f' * 40})}")
    assert forged.status_code == 403
    garbage = {"timestamp": "1", "nonce": "n", "echostr": "QUJD"}
    garbage["msg_signature"] = wecom.crypto.signature("1", "n", "QUJD")
    assert httpx.get(f"{wecom.callback_url}?{urlencode(garbage)}").status_code == 400


def test_forged_or_bad_callbacks_are_refused_and_nothing_processed(wecom, api):
    wecom.customer_says("wmCustomer001", "你好")
    wecom.replies_after("wmCustomer001", 0)
    calls, sent = len(wecom.sync_calls), len(wecom.sent)
    event = (
        "<xml><MsgType>event</MsgType><Event>kf_msg_or_event</Event><Token>t</Token>"
        f"<OpenKfId>{OPEN_KFID}</OpenKfId></xml>"
    )
    assert wecom.post_callback(event, signature="0" * 40) == 403
    app_message = (
        "<xml><FromUserName>lisi</FromUserName><MsgType>text</MsgType>"
        "<Content>嗨</Content><MsgId>1</MsgId><AgentID>1000002</AgentID></xml>"
    )
    assert wecom.post_callback(app_message, signature="0" * 40) == 403

    def post(body: bytes, signature: str = "x") -> int:
        query = urlencode({"msg_signature": signature, "timestamp": "1", "nonce": "1"})
        return httpx.post(f"{wecom.callback_url}?{query}", content=body).status_code

    assert post(b"<xml><Encrypt>") == 400  # malformed
    assert post(b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>') == 400
    assert post(b"<xml><ToUserName>ww</ToUserName></xml>") == 400  # nothing encrypted
    other = WecomCrypto(*_keys_of(wecom), "ww-another-corp")
    sealed = other.encrypt(event)  # our token and key, another receiver
    body = f"<xml><Encrypt><![CDATA[{sealed}]]></Encrypt></xml>".encode()
    assert post(body, wecom.crypto.signature("1", "1", sealed)) == 400
    undecryptable = "QUJDREVGR0hJSktMTU5PUA=="
    body = f"<xml><Encrypt>{undecryptable}</Encrypt></xml>".encode()
    assert post(body, wecom.crypto.signature("1", "1", undecryptable)) == 400
    assert (len(wecom.sync_calls), len(wecom.sent)) == (calls, sent)  # nothing pulled or sent
    assert api.get("/conversations/by-channel/wecom/app:lisi").status_code == 404


def _keys_of(double: WecomApi) -> tuple[str, str]:
    return double.env["WECOM_TOKEN"], double.env["WECOM_ENCODING_AES_KEY"]


# ------------------------------------------------------------------ 微信客服


def test_kf_customer_told_in_chinese_and_queued_when_the_assistant_is_down(wecom, api):
    msgid = wecom.customer_says("wmCustomer002", "热水器漏电了，很危险")
    assert wecom.callback_answers[-1] == (200, "success")  # answered at once
    [told] = wecom.replies_after("wmCustomer002", 0)
    assert told["msgtype"] == "text" and told["open_kfid"] == OPEN_KFID
    assert "智能客服暂时出现故障" in told["text"]["content"]
    assert HOTLINE in told["text"]["content"]
    found = api.get("/conversations/by-channel/wecom/wmCustomer002").json()
    assert found["mode"] == "waiting" and found["handoff_reason"] == "assistant_unavailable"
    [logged] = inbound(api, "wmCustomer002")
    assert (logged["text"], logged["channel_message_id"]) == ("热水器漏电了，很危险", msgid)
    assert wecom.sync_calls[-1]["token"] in wecom.callback_tokens  # the callback's token


def test_agent_reply_reaches_the_kf_customer(wecom, api, client, make_staff):
    wecom.customer_says("wmCustomer008", "转人工")
    wecom.replies_after("wmCustomer008", 0)
    conversation = api.get("/conversations/by-channel/wecom/wmCustomer008").json()
    _, agent = make_staff("agent-wang", role="agent")
    client.put("/api/v1/staff/me/availability", json={"available": True}, headers=agent)
    claimed = client.post(f"/api/v1/conversations/{conversation['id']}/claim", headers=agent)
    assert claimed.status_code == 200, claimed.text
    sent = client.post(f"/api/v1/conversations/{conversation['id']}/messages",
                       json={"text": "您好，我是客服小王"}, headers=agent)  # fmt: skip
    assert sent.status_code == 201, sent.text
    [reply] = wecom.replies_after("wmCustomer008", 1)
    assert reply["text"]["content"] == "您好，我是客服小王"
    wecom.wait_for(
        lambda: next(m for m in log(api, "wmCustomer008") if m["id"] == sent.json()["id"])[
            "delivered_at"
        ]
    )


def test_messages_pulled_again_are_processed_once(double, live_server, tmp_path, api):
    with gateway_for(double, tmp_path, live_server):
        double.page_size = 1  # one message per page: the gateway follows has_more
        double.customer_sends({"msgtype": "text", "text": {"content": "第一条"}},
                              "wmCustomer003", notify=False)  # fmt: skip
        double.customer_says("wmCustomer003", "第二条")  # one callback for both
        double.wait_for(lambda: stored(tmp_path, CURSOR) == "c2")
    assert [call.get("cursor") for call in double.sync_calls] == [None, "c1"]
    assert [m["text"] for m in inbound(api, "wmCustomer003")] == ["第一条", "第二条"]
    sent = len(double.sent_to("wmCustomer003"))
    assert sent == 1  # the notice, then the conversation waits for an agent

    with sqlite3.connect(tmp_path / "gateway.db") as db:  # as if a crash lost the cursor
        db.execute("DELETE FROM kv WHERE key = ?", (CURSOR,))
    with gateway_for(double, tmp_path, live_server):  # starting, it pulls everything again
        double.wait_for(lambda: stored(tmp_path, CURSOR) == "c2")
    assert [call.get("cursor") for call in double.sync_calls[2:]] == [None, "c1"]
    assert len(double.sent_to("wmCustomer003")) == sent  # nothing answered twice
    assert [m["text"] for m in inbound(api, "wmCustomer003")] == ["第一条", "第二条"]


def test_the_cursor_survives_a_restart_and_what_came_meanwhile_is_pulled(
    double, live_server, tmp_path, api
):
    with gateway_for(double, tmp_path, live_server):
        double.customer_says("wmCustomer009", "第一条")
        double.replies_after("wmCustomer009", 0)
    assert stored(tmp_path, CURSOR) == "c1"
    # the gateway is down: WeCom's callback is lost, the message waits in sync_msg
    double.customer_sends({"msgtype": "text", "text": {"content": "还在吗"}}, "wmCustomer010",
                          notify=False)  # fmt: skip
    with gateway_for(double, tmp_path, live_server):
        [told] = double.replies_after("wmCustomer010", 0)
    assert double.sync_calls[-1] == {"open_kfid": OPEN_KFID, "limit": 1000, "cursor": "c1"}
    assert "智能客服暂时出现故障" in told["text"]["content"]
    assert len(double.sent_to("wmCustomer009")) == 1  # not pulled again
    assert stored(tmp_path, CURSOR) == "c2"


def test_the_access_token_is_cached_and_refreshed_when_expired(wecom):
    for user in ("wmCustomer004", "wmCustomer014"):  # a pull and a send for each
        wecom.customer_says(user, "你好")
        wecom.replies_after(user, 0)
    assert wecom.gettoken_calls == 1  # one kf token for all those calls
    wecom.expire_access_tokens()
    wecom.customer_says("wmCustomer024", "你好")
    wecom.replies_after("wmCustomer024", 0)  # 42001, a new token, the same call again
    assert wecom.gettoken_calls == 2


def test_buttons_become_a_menu_and_a_click_comes_back_as_its_payload(wecom, api, tmp_path):
    wecom.customer_says("wmCustomer005", "你好")  # the gateway learns the customer's kf account
    wecom.replies_after("wmCustomer005", 0)
    settings = wecom_settings(tmp_path, "http://127.0.0.1:9", wecom)
    payload = '/give_feedback{"rating": "5"}'
    buttons = (Button("非常满意", payload), Button("不满意", "/deny"))
    send_as_delivery(
        settings, "wmCustomer005", [Reply("感谢您的耐心。"), Reply("请为本次服务打分", buttons)]
    )
    [menu] = wecom.sent_to("wmCustomer005")[1:]  # the text before and the menu: one message
    assert menu["msgtype"] == "msgmenu"
    assert menu["msgmenu"]["head_content"] == "感谢您的耐心。\n\n请为本次服务打分"
    clicks = [item["click"] for item in menu["msgmenu"]["list"]]
    assert [c["content"] for c in clicks] == ["非常满意", "不满意"]

    wecom.customer_says("wmCustomer005", "非常满意", menu_id=clicks[0]["id"])
    clicked = wecom.wait_for(lambda: inbound(api, "wmCustomer005")[1:])[0]
    assert clicked["text"] == "非常满意"
    assert clicked["payload"] == {"button": payload}
    wecom.customer_says("wmCustomer005", "非常满意", menu_id="m-unknown")  # typed, or forgotten
    typed = wecom.wait_for(lambda: inbound(api, "wmCustomer005")[2:])[0]
    assert (typed["text"], typed["payload"]) == ("非常满意", None)


def test_long_replies_fit_wecoms_limits_in_few_messages(wecom, tmp_path):
    wecom.customer_says("wmCustomer011", "你好")
    wecom.replies_after("wmCustomer011", 0)
    long_text = "\n".join(f"第{n}条：" + "洗衣机漏水" * 40 for n in range(8))  # ~4900 bytes
    shorts = [Reply(f"**第{n}句**") for n in range(6)]
    settings = wecom_settings(tmp_path, "http://127.0.0.1:9", wecom)
    send_as_delivery(settings, "wmCustomer011", [Reply(long_text), *shorts])
    sent = wecom.sent_to("wmCustomer011")[1:]
    assert len(sent) == 3  # within WeCom's five per customer message (the double refuses more)
    contents = [m["text"]["content"] for m in sent]
    assert all(len(c.encode()) <= 2048 for c in contents)
    assert "\n".join(contents[:-1]) + "\n" in long_text + "\n"  # cut at line ends, in order
    assert contents[-1].endswith("\n\n".join(f"第{n}句" for n in range(6)))  # no ** marks


def test_images_are_answered_once_and_sessions_greeted(wecom, api, tmp_path):
    wecom.customer_sends_image("wmCustomer006")
    [answer] = wecom.replies_after("wmCustomer006", 0)
    assert "只能处理文字消息" in answer["text"]["content"]
    with sqlite3.connect(tmp_path / "gateway.db") as db:  # pulled again after a crash
        db.execute("DELETE FROM kv WHERE key = ?", (CURSOR,))
    wecom.notify()
    wecom.wait_for(lambda: stored(tmp_path, CURSOR) is not None)
    assert len(wecom.sent_to("wmCustomer006")) == 1  # not told twice

    wecom.enter_session("wmCustomer007")  # with a welcome code: the greeting goes with it
    [welcome] = wecom.wait_for(lambda: wecom.welcomed)
    assert welcome["touser"] == "wmCustomer007" and welcome["msgtype"] == "text"
    assert HOTLINE in welcome["text"]["content"]  # the assistant is down in these tests
    [entered] = inbound(api, "wmCustomer007")
    assert entered["payload"] == {"button": "/greet"}
    assert wecom.sent_to("wmCustomer007") == []  # kf/send_msg is not allowed before they write
    wecom.enter_session("wmCustomer012", welcome=False)  # WeCom's admin welcomes: skipped
    wecom.wait_for(lambda: stored(tmp_path, CURSOR) == f"c{len(wecom.messages)}")
    assert api.get("/conversations/by-channel/wecom/wmCustomer012").status_code == 404


# ------------------------------------------------------------------ the self-built app


def test_staff_report_through_the_app_once_per_msgid(wecom, api):
    assert wecom.app_user_says("zhangsan", "3号楼空调坏了", msgid="900001") == 200
    [answer] = wecom.app_sent  # answered within the callback's time (4 s at most)
    assert answer["touser"] == "zhangsan" and answer["agentid"] == 1000002
    assert HOTLINE in answer["text"]["content"]  # the assistant is down in these tests
    assert wecom.app_user_says("zhangsan", "3号楼空调坏了", msgid="900001") == 200  # retried
    assert len(wecom.app_sent) == 1
    assert [m["text"] for m in inbound(api, "app:zhangsan")] == ["3号楼空调坏了"]
    assert wecom.app_user_sends_image("zhangsan") == 200
    assert "只能处理文字消息" in wecom.wait_for(lambda: wecom.app_sent[1:])[0]["text"]["content"]


def test_app_buttons_are_numbered_and_a_number_is_the_payload(wecom, api, tmp_path):
    settings = wecom_settings(tmp_path, "http://127.0.0.1:9", wecom)
    buttons = (Button("正确，提交", "/affirm"), Button("不对", "/deny"))
    send_as_delivery(settings, "app:lisi", [Reply("请确认您的报修：\n**3号楼空调**", buttons)])
    [shown] = wecom.app_sent
    assert shown["text"]["content"] == "请确认您的报修：\n3号楼空调\n1. 正确，提交\n2. 不对"
    wecom.app_user_says("lisi", "2")
    wecom.app_user_says("lisi", "正确，提交")  # answered: the choices are gone
    wecom.wait_for(lambda: len(inbound(api, "app:lisi")) == 2)
    numbered, titled = inbound(api, "app:lisi")
    assert (numbered["text"], numbered["payload"]) == ("2", {"button": "/deny"})
    assert (titled["text"], titled["payload"]) == ("正确，提交", None)


# ------------------------------------------------------------------ end to end

REF = re.compile(r"CS-\d{8}-\d{4,}")


@pytest.mark.slow
def test_chinese_complaint_through_wecom_to_its_ticket(channels_stack, wecom_api):
    wecom_api.callback_url = f"{channels_stack.api_url}/channels/wecom/callback"
    user = "wmE2Ecustomer01"
    said = 0

    def say(text: str, menu_id: str | None = None) -> list[dict]:
        nonlocal said
        wecom_api.customer_says(user, text, menu_id=menu_id)
        replies = wecom_api.replies_after(user, said, timeout=60)
        said += len(replies)
        return replies

    greeting = say("你好")
    assert "售后服务助手" in wecom_api.texts_to(user)[0]
    assert greeting[-1]["msgtype"] == "msgmenu"  # the assistant's quick replies
    say("我要投诉，上周买的洗衣机漏水很严重，地板都泡了")
    say("上周三")
    say("要求换新")
    [read_back] = say("13800138000")
    assert read_back["msgtype"] == "msgmenu"
    assert "13800138000" in read_back["msgmenu"]["head_content"]
    yes = read_back["msgmenu"]["list"][0]["click"]  # 正确，提交 → /affirm
    assert yes["content"] == "正确，提交"
    replies = say(yes["content"], menu_id=yes["id"])
    done = "\n".join(wecom_api.texts_to(user)[-len(replies) :])
    ref = REF.search(done)
    assert ref, done
    assert "您的投诉已登记" in done
    with processes.service_client(channels_stack) as api:
        ticket = api.get(f"/tickets/{ref.group()}").json()
    assert ticket["kind"] == "complaint" and ticket["channel"] == "wecom"
    assert ticket["status"] == "received" and "漏水" in ticket["description"]
