"""The WeCom channel (issue #4 §4): 微信客服 and the self-built app against the double of
WeCom's API on 127.0.0.1, the gateway served by uvicorn, the real API (SQLite and
PostgreSQL). Rasa is down here (a closed port); the end-to-end test is last."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from api import bus
from bot.api_client import ApiClient
from bot.channels.wecom import WecomChannel
from bot.gateway import create_app
from bot.messages import Button, Reply
from bot.rasa_client import RasaClient
from bot.routing import Router
from bot.state import SqliteState
from tests import processes
from tests.bot.doubles.wecom import OPEN_KFID, WecomApi
from tests.bot.test_gateway import gateway_settings
from tests.serving import serve

HOTLINE = "400-800-1234"


def wecom_settings(var_dir: Path, api_url: str, double: WecomApi):
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


@pytest.fixture
def api(live_server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
    with httpx.Client(base_url=f"{live_server}/api/v1", headers=headers) as client:
        yield client


def log(api: httpx.Client, external_id: str) -> list[dict]:
    found = api.get(f"/conversations/by-channel/wecom/{external_id}").json()
    return api.get(f"/conversations/{found['id']}/messages").json()


def test_the_callback_url_is_verified(wecom):
    echo = wecom.crypto.encrypt("verify-7741")
    query = {"timestamp": "1700000000", "nonce": "n1", "echostr": echo}
    signed = {**query, "msg_signature": wecom.crypto.signature("1700000000", "n1", echo)}
    answer = httpx.get(f"{wecom.callback_url}?{urlencode(signed)}")
    assert (answer.status_code, answer.text) == (200, "verify-7741")
    forged = httpx.get(f"{wecom.callback_url}?{urlencode({**query, 'msg_signature': 'f' * 40})}")
    assert forged.status_code == 403


def test_a_forged_callback_is_refused_and_nothing_processed(wecom):
    wecom.customer_says("wmCustomer001", "你好")
    wecom.replies_after("wmCustomer001", 0)
    calls = len(wecom.sync_calls)
    event = "<xml><Event>kf_msg_or_event</Event><OpenKfId>wkTEST0000kf0001</OpenKfId></xml>"
    assert wecom.post_callback(event, signature="0" * 40) == 403
    garbled = httpx.post(f"{wecom.callback_url}?msg_signature=x&timestamp=1&nonce=1",
                         content=b"<xml><Encrypt>")  # fmt: skip
    assert garbled.status_code == 400
    entity = b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>'
    assert httpx.post(f"{wecom.callback_url}?msg_signature=x&timestamp=1&nonce=1",
                      content=entity).status_code == 400  # fmt: skip
    assert len(wecom.sync_calls) == calls  # nothing pulled


def test_kf_customer_told_in_chinese_and_queued_when_the_assistant_is_down(wecom, api):
    assert wecom.customer_says("wmCustomer002", "热水器漏电了，很危险") == "msg00000001"
    assert wecom.callback_answers[-1] == (200, "success")  # answered at once
    [told] = wecom.replies_after("wmCustomer002", 0)
    assert told["msgtype"] == "text" and told["open_kfid"] == OPEN_KFID
    assert "智能客服暂时出现故障" in told["text"]["content"]
    assert HOTLINE in told["text"]["content"]
    found = api.get("/conversations/by-channel/wecom/wmCustomer002").json()
    assert found["mode"] == "waiting"
    assert log(api, "wmCustomer002")[0]["text"] == "热水器漏电了，很危险"
    assert wecom.sync_calls[-1]["token"] in wecom.callback_tokens  # the callback's token


def test_messages_pulled_again_are_processed_once_and_the_cursor_survives(
    double, live_server, tmp_path, api
):
    with gateway_for(double, tmp_path, live_server):
        double.page_size = 1  # one message per page: the gateway follows has_more
        double._queue({"origin": 3, "external_userid": "wmCustomer003", "msgtype": "text",
                       "text": {"content": "第一条"}}, notify=False)  # fmt: skip
        double.customer_says("wmCustomer003", "第二条")
        double.replies_after("wmCustomer003", 0)  # the first is answered, then it waits
        double.wait_for(lambda: len(double.sync_calls) == 2)
        double.wait_for(lambda: len(log(api, "wmCustomer003")) == 3)  # 2 in, 1 out
    assert [c.get("cursor") for c in double.sync_calls] == [None, "c1"]

    with sqlite3.connect(tmp_path / "gateway.db") as db:  # the cursor is kept
        [(cursor,)] = db.execute("SELECT value FROM kv WHERE key = ?",
                                 (f"wecom:cursor:{OPEN_KFID}",)).fetchall()  # fmt: skip
        assert cursor == "c2"
        db.execute("DELETE FROM kv WHERE key LIKE 'wecom:cursor:%'")  # as if lost in a crash
    sent = len(double.sent_to("wmCustomer003"))
    with gateway_for(double, tmp_path, live_server):  # a restart pulls everything again
        double.notify()
        double.wait_for(lambda: len(double.sync_calls) == 4)
    assert len(double.sent_to("wmCustomer003")) == sent  # nothing answered twice
    inbound = [m["text"] for m in log(api, "wmCustomer003") if m["direction"] == "in"]
    assert inbound == ["第一条", "第二条"]


def test_the_access_token_is_cached_and_refreshed_when_expired(wecom):
    for user in ("wmCustomer004", "wmCustomer014"):  # new customers: each gets an answer
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

    async def send() -> None:  # a second channel on the gateway's state file
        state = SqliteState(tmp_path / "gateway.db")
        router = Router(settings, ApiClient(settings), RasaClient(settings), state)
        channel = WecomChannel(settings, router, state)
        try:
            buttons = (Button("非常满意", payload), Button("不满意", "/deny"))
            await channel.send("wmCustomer005", [Reply("请为本次服务打分", buttons)])
        finally:
            await channel.stop()
            await state.aclose()

    asyncio.run(send())
    menu = wecom.sent_to("wmCustomer005")[-1]
    assert menu["msgtype"] == "msgmenu"
    assert menu["msgmenu"]["head_content"] == "请为本次服务打分"
    clicks = [item["click"] for item in menu["msgmenu"]["list"]]
    assert [c["content"] for c in clicks] == ["非常满意", "不满意"]

    wecom.customer_says("wmCustomer005", "非常满意", menu_id=clicks[0]["id"])
    wecom.wait_for(
        lambda: len([m for m in log(api, "wmCustomer005") if m["direction"] == "in"]) == 2
    )
    clicked = [m for m in log(api, "wmCustomer005") if m["direction"] == "in"][-1]
    assert clicked["text"] == "非常满意"
    assert clicked["payload"] == {"button": payload}


def test_images_are_answered_politely_and_sessions_greeted(wecom, api):
    wecom.customer_sends_image("wmCustomer006")
    [answer] = wecom.replies_after("wmCustomer006", 0)
    assert "文字" in answer["text"]["content"]
    wecom.enter_session("wmCustomer007")
    wecom.replies_after("wmCustomer007", 0)
    [entered] = log(api, "wmCustomer007")[:1]
    assert entered["payload"] == {"button": "/greet"}


def test_staff_report_through_the_app_once_per_msgid(wecom, api):
    assert wecom.app_user_says("zhangsan", "3号楼空调坏了", msgid="900001") == 200
    [answer] = wecom.app_sent
    assert answer["touser"] == "zhangsan" and answer["agentid"] == 1000002
    assert HOTLINE in answer["text"]["content"]  # the assistant is down in these tests
    assert wecom.app_user_says("zhangsan", "3号楼空调坏了", msgid="900001") == 200  # retried
    assert len(wecom.app_sent) == 1
    assert [m["text"] for m in log(api, "app:zhangsan") if m["direction"] == "in"] == [
        "3号楼空调坏了"
    ]


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

    def content(replies: list[dict]) -> str:
        return "\n".join(
            r["text"]["content"] if r["msgtype"] == "text" else r["msgmenu"]["head_content"]
            for r in replies
        )

    assert "售后" in content(say("你好"))
    say("我要投诉，上周买的洗衣机漏水很严重，地板都泡了")
    say("上周三")
    say("要求换新")
    read_back = say("13800138000")
    menu = next((r for r in reversed(read_back) if r["msgtype"] == "msgmenu"), None)
    if menu:  # the read-back's buttons: click the first ("yes")
        first = menu["msgmenu"]["list"][0]["click"]
        done = content(say(first["content"], menu_id=first["id"]))
    else:
        done = content(say("对"))
    ref = REF.search(done)
    assert ref, (content(read_back), done)
    with processes.service_client(channels_stack) as api:
        ticket = api.get(f"/tickets/{ref.group()}").json()
    assert ticket["kind"] == "complaint" and ticket["channel"] == "wecom"
    assert "漏水" in ticket["description"]
