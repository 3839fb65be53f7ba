"""The Telegram channel (issue #4 §3): python-telegram-bot against the Bot API double on
127.0.0.1, the gateway served by uvicorn, the real API (SQLite and PostgreSQL). Rasa is
down here (a closed port); the end-to-end test with the real assistant is last."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api import bus
from bot.api_client import ApiClient
from bot.channels.telegram import TelegramChannel
from bot.gateway import create_app
from bot.messages import Button, Reply
from bot.rasa_client import RasaClient
from bot.routing import Router
from bot.state import SqliteState
from tests import processes
from tests.bot.doubles.telegram import TOKEN, TelegramBotApi
from tests.bot.test_gateway import gateway_settings
from tests.processes import free_port
from tests.serving import serve

HOTLINE = "400-800-1234"


@pytest.fixture
def double() -> Iterator[TelegramBotApi]:
    with TelegramBotApi.running() as running:
        yield running


def telegram_settings(var_dir: Path, api_url: str, double: TelegramBotApi, **extra):
    return gateway_settings(var_dir, api_url).model_copy(
        update={
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": f"{double.url}/bot",
            "telegram_poll_timeout": 1,
            **extra,
        }
    )


@pytest.fixture
def polling(live_server, tmp_path, double) -> Iterator[TelegramBotApi]:
    """A gateway long-polling the double."""
    with serve(create_app(telegram_settings(tmp_path, live_server, double), bus=bus.current())):
        double.wait_for(lambda: "getUpdates" in double.calls)
        yield double


@pytest.fixture
def api(live_server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
    with httpx.Client(base_url=f"{live_server}/api/v1", headers=headers) as client:
        yield client


def conversation(api: httpx.Client, chat_id: int) -> dict:
    return api.get(f"/conversations/by-channel/telegram/{chat_id}").json()


def log(api: httpx.Client, chat_id: int) -> list[dict]:
    return api.get(f"/conversations/{conversation(api, chat_id)['id']}/messages").json()


def test_polling_stores_then_confirms_and_answers_in_the_customers_language(polling, api):
    update_id = polling.customer_says(7001, "我的冰箱不制冷了")
    [told] = polling.replies_after(7001, 0)
    assert "智能客服暂时出现故障" in told["text"] and HOTLINE in told["text"]
    assert conversation(api, 7001)["mode"] == "waiting"  # queued for an agent
    assert log(api, 7001)[0]["text"] == "我的冰箱不制冷了"
    polling.wait_for(lambda: polling.confirmed > update_id)  # acknowledged after storing

    polling.customer_says(7002, "my fridge is warm", language_code="en-GB")
    [told] = polling.replies_after(7002, 0)
    assert "technical problem" in told["text"]


def test_a_redelivered_update_is_processed_once(polling, api):
    body = {"message": {"message_id": 1, "date": 0, "text": "你好",
                        "from": {"id": 7003, "is_bot": False, "first_name": "C"},
                        "chat": {"id": 7003, "type": "private"}}}  # fmt: skip
    polling.push(body, update_id=555001)
    polling.replies_after(7003, 0)
    polling.push(body, update_id=555001)  # Telegram sends it again
    polling.wait_for(lambda: polling.confirmed > 555001)
    assert len(polling.sent_to(7003)) == 1  # answered once
    assert [m["text"] for m in log(api, 7003) if m["direction"] == "in"] == ["你好"]


def test_start_and_stickers(polling, api):
    polling.customer_sends_sticker(7004)
    [answer] = polling.replies_after(7004, 0)
    assert "文字" in answer["text"]  # only text, politely
    polling.customer_says(7004, "/start")
    polling.replies_after(7004, 1)
    [started] = log(api, 7004)[:1]
    assert started["text"] == "/start" and started["payload"] == {"button": "/greet"}


def test_agent_reply_reaches_telegram(polling, api, client, make_staff):
    polling.customer_says(7005, "转人工")
    polling.replies_after(7005, 0)
    _, agent = make_staff("agent-qian")
    found = conversation(api, 7005)
    client.post(f"/api/v1/conversations/{found['id']}/claim", headers=agent).raise_for_status()
    sent = client.post(
        f"/api/v1/conversations/{found['id']}/messages",
        json={"text": "您好，我是客服小钱"},
        headers=agent,
    ).json()
    [reply] = polling.replies_after(7005, 1)
    assert reply["text"] == "您好，我是客服小钱"
    polling.wait_for(
        lambda: next(m for m in log(api, 7005) if m["id"] == sent["id"])["delivered_at"]
    )


def test_long_button_payloads_are_mapped_and_presses_answered(polling, api, tmp_path):
    """A payload over 64 bytes goes out as a short key and comes back as itself."""
    long_payload = '/give_feedback{"rating": "5", "ticket_ref": "CS-20261202-0001"}' + "x" * 20
    settings = telegram_settings(tmp_path, "http://127.0.0.1:9", polling)

    async def send() -> None:  # a second channel on the gateway's state file
        state = SqliteState(tmp_path / "gateway.db")
        router = Router(settings, ApiClient(settings), RasaClient(settings), state)
        channel = TelegramChannel(settings, router, state)
        try:
            buttons = (Button("非常满意", long_payload), Button("一般", "/deny"))
            await channel.send("7006", [Reply("请为本次服务打分", buttons)])
        finally:
            await channel.bot.shutdown()
            await state.aclose()

    asyncio.run(send())
    [question] = polling.sent_to(7006)
    keyboard = question["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["callback_data"].startswith("k:")
    assert len(keyboard[0][0]["callback_data"].encode()) <= 64
    assert keyboard[1][0]["callback_data"] == "/deny"

    polling.press_button(7006, question, "非常满意")
    polling.replies_after(7006, 1)
    assert polling.answered  # the spinner on the button stops
    [pressed] = [m for m in log(api, 7006) if m["direction"] == "in"]
    assert pressed["text"] == "非常满意"
    assert pressed["payload"] == {"button": long_payload}


def test_webhook_mode_checks_the_secret(live_server, tmp_path, double, api):
    port = free_port()
    url = f"http://127.0.0.1:{port}/channels/telegram/webhook"
    settings = telegram_settings(tmp_path, live_server, double, telegram_webhook_url=url,
                                 telegram_webhook_secret="s3cret-token")  # fmt: skip
    with serve(create_app(settings, bus=bus.current()), port=port):
        double.wait_for(lambda: double.webhook)
        assert double.webhook == {"url": url, "secret_token": "s3cret-token"}
        body = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "你好",
                "chat": {"id": 7007, "type": "private"}}}  # fmt: skip
        forged = httpx.post(url, json=body)
        wrong = httpx.post(url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "no"})
        assert (forged.status_code, wrong.status_code) == (403, 403)
        assert api.get("/conversations/by-channel/telegram/7007").status_code == 404
        garbled = httpx.post(url, content=b"{", headers={
            "X-Telegram-Bot-Api-Secret-Token": "s3cret-token",
            "Content-Type": "application/json"})  # fmt: skip
        assert garbled.status_code == 400

        double.customer_says(7007, "你好")  # Telegram posts it with the secret
        assert double.webhook_answers == [200]
        [told] = double.sent_to(7007)  # answered before the webhook call returned
        assert HOTLINE in told["text"]


# ------------------------------------------------------------------ end to end

REF = re.compile(r"CS-\d{8}-\d{4,}")


@pytest.mark.slow
def test_chinese_complaint_through_telegram_to_its_ticket(channels_stack, telegram_api):
    chat = 880001
    said = 0

    def say(text: str) -> str:
        nonlocal said
        telegram_api.customer_says(chat, text)
        replies = telegram_api.replies_after(chat, said, timeout=60)
        said += len(replies)
        return "\n".join(r["text"] for r in replies)

    assert "售后" in say("你好")
    say("我要投诉，上周买的洗衣机漏水很严重，地板都泡了")
    say("上周三")
    say("要求换新")
    read_back = say("13800138000")
    confirm = telegram_api.sent_to(chat)[-1]
    if confirm.get("reply_markup"):  # the read-back's buttons: press "yes"
        title = confirm["reply_markup"]["inline_keyboard"][0][0]["text"]
        telegram_api.press_button(chat, confirm, title)
        done = "\n".join(r["text"] for r in telegram_api.replies_after(chat, said, timeout=60))
    else:
        done = say("对")
    ref = REF.search(done)
    assert ref, (read_back, done)
    with processes.service_client(channels_stack) as api:
        ticket = api.get(f"/tickets/{ref.group()}").json()
    assert ticket["kind"] == "complaint" and ticket["channel"] == "telegram"
    assert "漏水" in ticket["description"]
    assert "13800138000" not in str(ticket["customer"])  # masked for the service client
