"""The Telegram channel (issue #4 §3): python-telegram-bot against the Bot API double on
127.0.0.1 (tests/bot/doubles/telegram.py), the gateway served by uvicorn, the real API over
HTTP (SQLite and PostgreSQL) or none at all (a closed port: degraded mode). Rasa is down
here (a closed port); the end-to-end test with the real assistant is last."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import BadRequest, Forbidden

from api import bus
from api.bus import MemoryBus
from bot.api_client import ApiClient
from bot.channels.telegram import TelegramChannel
from bot.gateway import create_app
from bot.messages import Button, Reply
from bot.rasa_client import RasaClient
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import SqliteState, State
from tests import processes
from tests.bot.doubles.telegram import STICKER, TOKEN, TelegramBotApi, buttons
from tests.bot.test_gateway import gateway_settings
from tests.processes import free_port
from tests.serving import serve

HOTLINE = "400-800-1234"
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as a secret token


@pytest.fixture
def double() -> Iterator[TelegramBotApi]:
    with TelegramBotApi.running() as running:
        yield running


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def telegram_settings(
    var_dir: Path, base_url: str, api_url: str | None = None, **extra: Any
) -> GatewaySettings:
    """A gateway on Telegram at `base_url`; the API at `api_url` (None: down)."""
    return gateway_settings(var_dir, api_url or closed_url()).model_copy(
        update={
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": f"{base_url}/bot",
            "telegram_poll_timeout": 1,
            **extra,
        }
    )


@contextlib.contextmanager
def gateway(
    settings: GatewaySettings, events: bus.Bus | None = None, port: int = 0
) -> Iterator[None]:
    """The gateway served on `port` (0: a free one) until the block ends."""
    with serve(create_app(settings, bus=events or MemoryBus()), port):
        yield


@pytest.fixture
def polling(live_server, tmp_path, double) -> Iterator[TelegramBotApi]:
    """A gateway long-polling the double, with the API of `live_server`."""
    with gateway(telegram_settings(tmp_path, double.url, live_server), bus.current()):
        double.wait_until(lambda: "getUpdates" in double.calls, what="polling")
        yield double


def conversation(api: httpx.Client, chat_id: int) -> dict:
    found = api.get(f"/conversations/by-channel/telegram/{chat_id}")
    assert found.status_code == 200, found.text
    return found.json()


def log(api: httpx.Client, chat_id: int) -> list[dict]:
    return api.get(f"/conversations/{conversation(api, chat_id)['id']}/messages").json()


def in_state(var_dir: Path, act: Callable[[State], Awaitable[Any]]) -> Any:
    """`act` on the gateway state under `var_dir` (as another gateway would see it)."""

    async def run() -> Any:
        state = SqliteState(var_dir / "gateway.db")
        try:
            return await act(state)
        finally:
            await state.aclose()

    return asyncio.run(run())


def with_channel(settings: GatewaySettings, act: Callable[[TelegramChannel], Awaitable]) -> None:
    """`act` with a Telegram channel of `settings` that is not started (as the deliverer
    uses it)."""

    async def run() -> None:
        state = SqliteState(settings.var_dir / "gateway.db")
        router = Router(settings, ApiClient(settings), RasaClient(settings), state)
        channel = TelegramChannel(settings, router, state)
        try:
            await act(channel)
        finally:
            await channel.stop()
            await router.api.aclose()
            await router.rasa.aclose()
            await state.aclose()

    asyncio.run(run())


# ------------------------------------------------------------------ long polling


def test_an_update_is_confirmed_only_once_stored_and_answered_in_its_language(
    polling, api, live_server
):
    stored_when_confirmed: dict[int, bool] = {}

    def check(update: dict) -> None:  # runs when the gateway's offset confirms the update
        chat_id = update["message"]["chat"]["id"]
        headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
        with httpx.Client(base_url=f"{live_server}/api/v1", headers=headers) as own:
            found = own.get(f"/conversations/by-channel/telegram/{chat_id}")
            logged = []
            if found.status_code == 200:
                logged = own.get(f"/conversations/{found.json()['id']}/messages").json()
        ids = [m["channel_message_id"] for m in logged]
        stored_when_confirmed[update["update_id"]] = str(update["update_id"]) in ids

    polling.on_confirm = check
    [told] = polling.customer_turn(7001, "我的冰箱不制冷了")
    assert "智能客服暂时出现故障" in told["text"] and HOTLINE in told["text"]
    assert "**" not in told["text"] and "reply_markup" not in told
    queued = conversation(api, 7001)
    assert (queued["mode"], queued["handoff_reason"]) == ("waiting", "assistant_unavailable")
    [said, system] = log(api, 7001)
    assert said["text"] == "我的冰箱不制冷了"
    assert said["channel_message_id"] == str(polling.confirmed[0])  # the update id
    assert system["sender"] == "system" and system["text"] == told["text"]
    assert (7001, "typing") in polling.actions

    [told] = polling.customer_turn(7002, "my fridge is warm", language_code="en-GB")
    assert "technical problem" in told["text"] and HOTLINE in told["text"]
    assert conversation(api, 7002)["mode"] == "waiting"
    assert stored_when_confirmed == dict.fromkeys(polling.confirmed, True)
    assert len(stored_when_confirmed) == 2


def test_a_redelivered_update_is_processed_once(polling, api):
    update_id = polling.customer_says(7003, "你好")
    polling.wait_until(lambda: polling.taken(update_id))
    polling.redeliver(update_id)  # the poller died before its offset confirmed it
    polling.wait_until(lambda: polling.confirmed.count(update_id) == 2, what="confirmed again")
    assert len(polling.sent(7003)) == 1  # answered once
    assert [m["text"] for m in log(api, 7003) if m["direction"] == "in"] == ["你好"]


def test_start_is_a_greeting_other_messages_get_a_polite_reply(polling, api):
    update_id = polling.customer_sends(7004, {"sticker": STICKER})
    polling.wait_until(lambda: polling.taken(update_id))
    [answer] = polling.sent(7004)
    assert "文字" in answer["text"]  # words only, politely, in Chinese
    assert api.get("/conversations/by-channel/telegram/7004").status_code == 404  # not routed
    photo = {"photo": [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90,
                        "height": 90}], "caption": "the leak"}  # fmt: skip
    update_id = polling.customer_sends(7004, photo, language_code="en")
    polling.wait_until(lambda: polling.taken(update_id))
    assert "text messages" in polling.sent(7004)[-1]["text"]

    polling.customer_turn(7004, "/start")
    [started] = log(api, 7004)[:1]
    assert started["text"] == "/start" and started["payload"] == {"button": "/greet"}


def test_an_agents_reply_reaches_telegram(polling, api, client, make_staff):
    polling.customer_turn(7005, "转人工")
    _, agent = make_staff("agent-qian")
    found = conversation(api, 7005)
    client.post(f"/api/v1/conversations/{found['id']}/claim", headers=agent).raise_for_status()
    sent = client.post(f"/api/v1/conversations/{found['id']}/messages",
                       json={"text": "您好，我是客服小钱"}, headers=agent).json()  # fmt: skip
    [reply] = polling.replies_after(7005, 1)
    assert reply["text"] == "您好，我是客服小钱"
    polling.wait_until(
        lambda: next(m for m in log(api, 7005) if m["id"] == sent["id"])["delivered_at"],
        what="reported delivered",
    )
    assert polling.customer_turn(7005, "谢谢") == []  # the agent answers, not the bot


def test_a_reply_telegram_refused_is_sent_again_by_the_deliverers(polling, api):
    """Telegram fails when the turn's reply goes out: the deliverers try again."""
    polling.fail("sendMessage", times=1, code=502, description="Bad Gateway")
    polling.customer_says(7010, "我的冰箱不制冷了")
    [told] = polling.replies_after(7010, 0)
    assert "智能客服暂时出现故障" in told["text"]
    assert polling.failures_left() == 0  # the first try was refused
    reply = next(m for m in log(api, 7010) if m["direction"] == "out")
    polling.wait_until(
        lambda: next(m for m in log(api, 7010) if m["id"] == reply["id"])["delivered_at"],
        what="reported delivered",
    )
    assert len(polling.sent(7010)) == 1  # once


def test_long_button_payloads_are_mapped_and_presses_answered(polling, api, tmp_path):
    long_payload = '/give_feedback{"rating": "5", "ticket_ref": "CS-20261202-0001", "x": 1}'
    assert len(long_payload.encode()) > 64
    polling.customer_turn(7006, "你好")

    async def ask(channel: TelegramChannel) -> None:
        buttons_ = (Button("5 非常满意", long_payload), Button("不用了", "/deny"),
                    Button("标签", "#tag"))  # fmt: skip
        await channel.send("7006", [Reply("请为本次服务打分：", buttons_)])

    with_channel(telegram_settings(tmp_path, polling.url), ask)  # the gateway's state file
    question = polling.sent(7006)[-1]
    [long, short, marked] = [b["callback_data"] for b in buttons(question)]
    assert len(long.encode()) <= 64 and long != long_payload
    assert short == "/deny" and marked != "#tag"

    update_id = polling.press_button(7006, question, long)
    polling.wait_until(lambda: polling.taken(update_id))
    assert polling.answered(update_id)  # the spinner on the button stops
    polling.redeliver(update_id)  # answering it again is refused: taken all the same, once
    polling.wait_until(lambda: polling.confirmed.count(update_id) == 2, what="taken again")
    update_id = polling.press_button(7006, question, marked, language_code="en")
    polling.wait_until(lambda: polling.taken(update_id))
    pressed = [m for m in log(api, 7006) if m["direction"] == "in"][1:]
    assert [(m["text"], m["payload"]) for m in pressed] == [
        ("5 非常满意", {"button": long_payload}),
        ("标签", {"button": "#tag"}),
    ]


# ------------------------------------------------------------------ webhook mode


def test_webhook_mode_checks_the_secret_and_answers_once_taken(live_server, tmp_path, api):
    port = free_port()
    url = f"http://127.0.0.1:{port}/channels/telegram/webhook"
    with TelegramBotApi.running() as double:
        settings = telegram_settings(tmp_path, double.url, live_server, telegram_webhook_url=url)
        with gateway(settings, port=port):
            double.wait_until(lambda: double.webhook, what="the webhook set")
            secret = double.webhook["secret_token"]
            assert double.webhook["url"] == url and SECRET.match(secret)
            assert secret not in TOKEN and TOKEN.split(":")[1] not in secret

            body = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "你好",
                    "chat": {"id": 7007, "type": "private"}}}  # fmt: skip
            forged = httpx.post(url, json=body)
            wrong = httpx.post(url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
            assert (forged.status_code, wrong.status_code) == (403, 403)
            assert api.get("/conversations/by-channel/telegram/7007").status_code == 404
            right = {"X-Telegram-Bot-Api-Secret-Token": secret}
            for garbled in (b"{", b"[]", b'{"message": {}}'):
                answer = httpx.post(url, content=garbled, headers=right)
                assert answer.status_code == 400, garbled

            [told] = double.customer_turn(7007, "你好")  # Telegram posts it with the secret
            assert HOTLINE in told["text"]
            assert double.webhook_answers == [200]  # 200 once answered
            assert "getUpdates" not in double.calls
        other = telegram_settings(tmp_path / "other", double.url, live_server,
                                  telegram_webhook_url=url)  # fmt: skip
        with gateway(other, port=port):  # another gateway: the same secret, derived from the token
            double.wait_until(lambda: double.calls.count("setWebhook") == 2)
            assert double.webhook["secret_token"] == secret


# ------------------------------------------------------------------ failures, several gateways


def test_api_down_the_update_is_spooled_then_confirmed(tmp_path, double):
    with gateway(telegram_settings(tmp_path, double.url)):
        [told] = double.customer_turn(7008, "热水器漏水了")
        assert "系统暂时出现故障" in told["text"] and HOTLINE in told["text"]
        double.block(7009)
        update_id = double.customer_says(7009, "hello", language_code="en")
        double.wait_until(lambda: double.taken(update_id))  # taken, though not answerable
    spooled = [item["inbound"] for _, item in in_state(tmp_path, lambda s: s.spooled())]
    assert [(m["external_id"], m["channel_message_id"], m["language"]) for m in spooled] == [
        ("7008", str(double.confirmed[0]), "zh"),
        ("7009", str(update_id), "en"),
    ]


def test_send_raises_when_telegram_refuses_and_splits_long_texts(tmp_path, double):
    double.customer_says(7010, "你好")
    double.customer_says(7011, "你好")
    double.block(7011)
    long_text = "很长的工单记录。" * 600  # 4800 characters: more than one message holds

    async def act(channel: TelegramChannel) -> None:
        await channel.send("7010", [Reply(f"**{long_text}**", (Button("好的", "/affirm"),))])
        with pytest.raises(Forbidden):
            await channel.send("7011", [Reply("您好")])
        with pytest.raises(BadRequest):  # a chat that never wrote to the bot
            await channel.send("7012", [Reply("您好")])

    with_channel(telegram_settings(tmp_path, double.url), act)
    first, last = double.sent(7010)
    assert first["text"] + last["text"] == long_text  # plain text, in order
    assert "reply_markup" not in first and buttons(last)[0]["callback_data"] == "/affirm"


def test_polling_survives_telegram_being_unreachable_or_failing(tmp_path):
    port = free_port()
    with gateway(telegram_settings(tmp_path, f"http://127.0.0.1:{port}")):
        time.sleep(1)  # connections refused meanwhile
        with TelegramBotApi.running(port) as double:
            double.fail("getUpdates", code=502, description="Bad Gateway")
            double.fail("getUpdates", code=429, description="Too Many Requests: retry after 1",
                        parameters={"retry_after": 1})  # fmt: skip
            [told] = double.customer_turn(7013, "你好")
            assert HOTLINE in told["text"]
            assert double.failures_left() == 0 and double.calls[0] == "deleteWebhook"


def test_one_gateway_polls_at_a_time(tmp_path, double):
    """Two gateways on one state: the lease of one that died is taken when it expires,
    the lease of one that stops at once; never two pollers."""
    settings = telegram_settings(tmp_path, double.url)
    apps = {name: create_app(settings, bus=MemoryBus()) for name in ("a", "b")}
    channels = {name: app.state.gateway.channels["telegram"] for name, app in apps.items()}
    lease = channels["a"].poller.lease
    assert in_state(tmp_path, lambda s: s.put_new(lease, "a-gateway-that-died", 2))
    with contextlib.ExitStack() as a, contextlib.ExitStack() as b:
        servers = {"a": a, "b": b}
        for name, app in apps.items():
            servers[name].enter_context(serve(app))
        update_id = double.customer_says(7014, "你好")
        time.sleep(1.2)
        assert "getUpdates" not in double.calls  # the lease is still the dead one's
        double.wait_until(lambda: double.taken(update_id), timeout=10, what="taken over")
        holder = in_state(tmp_path, lambda s: s.get(lease))
        [first] = [name for name, channel in channels.items() if channel.poller.holder == holder]

        servers[first].close()  # it stops: the lease is released
        [second] = set(channels) - {first}
        assert double.customer_turn(7014, "还在吗", timeout=10)
        assert in_state(tmp_path, lambda s: s.get(lease)) == channels[second].poller.holder
    assert double.conflicts == 0  # never two polls at once
    assert len(double.sent(7014)) == 2  # each message answered once


# ------------------------------------------------------------------ end to end

REF = re.compile(r"CS-\d{8}-\d{4,}")


@pytest.mark.slow
def test_chinese_complaint_through_telegram_to_its_ticket(channels_stack, telegram_api):
    chat = 880001
    greeting = telegram_api.customer_turn(chat, "/start", timeout=60)
    assert "您好" in greeting[0]["text"]
    assert "我要投诉" in [b["text"] for b in buttons(greeting[-1])]  # an inline keyboard
    for said in ("我要投诉，上周买的洗衣机漏水很严重，地板都泡了", "上周三", "要求换新"):
        assert telegram_api.customer_turn(chat, said, timeout=60)
    [*_, read_back] = telegram_api.customer_turn(chat, "13800138000", timeout=60)
    assert "13800138000" in read_back["text"] and "**" not in read_back["text"]
    done = telegram_api.customer_presses(chat, read_back, "正确，提交", timeout=60)
    ref = REF.search("\n".join(m["text"] for m in done))
    assert ref, done
    with processes.service_client(channels_stack) as service:
        ticket = service.get(f"/tickets/{ref.group()}").json()
        pressed = service.get(f"/conversations/by-channel/telegram/{chat}").json()
    assert ticket["kind"] == "complaint" and ticket["channel"] == "telegram"
    assert "漏水" in ticket["description"]
    assert ticket["customer"]["phone"] == "138****8000"  # masked for the service client
    assert pressed["ticket_ref"] == ref.group()
