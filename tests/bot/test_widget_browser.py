"""The web chat widget in headless Chromium against the real stack (the API with the
gateway mounted, the action server, Rasa with the trained model): the demo page, a
Chinese complaint to its ticket, a reload that keeps the conversation, an agent's reply
arriving live, the English UI and the keyboard, embedding on another site, and the
outbox across a dropped connection and a reload while offline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.channels.web import CLIENT_ID, external_id_of
from tests import processes
from tests.browser import chromium
from tests.serving import serve
from tests.widget_page import WIDGET, Widget

pytestmark = pytest.mark.slow

REF = re.compile(r"CS-\d{8}-\d{4,}")
SOCKET = re.compile(r"/channels/web/ws$")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def widget(browser, channels_stack) -> Iterator[Widget]:
    """The demo page, in a browser that prefers Chinese, with nothing stored yet."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    customer = Widget(page)
    page.goto(f"{channels_stack.api_url}/")
    yield customer
    context.close()


def conversation_log(stack: processes.Stack, session: str) -> tuple[dict, list[dict]]:
    """The conversation of a widget session and its messages, as the API has them."""
    with processes.service_client(stack) as api:
        found = api.get(f"/conversations/by-channel/web/{external_id_of(session)}")
        found.raise_for_status()
        conversation = found.json()
        messages = api.get(f"/conversations/{conversation['id']}/messages").json()
    return conversation, messages


def customer_texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m["sender"] == "customer"]


def test_the_demo_page_embeds_an_accessible_widget_in_the_pages_language(widget):
    page = widget.page
    expect(page.get_by_role("heading", level=1)).to_have_text("售后服务 · After-sales service")
    expect(widget.launcher).to_have_text("在线客服")
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.launcher).to_have_attribute("aria-controls", "panel")
    expect(widget.panel).to_be_hidden()
    widget.open()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("dialog", name="售后服务")).to_be_visible()
    expect(widget.log).to_have_attribute("aria-live", "polite")
    expect(widget.log).to_contain_text("售后服务助手")  # the local welcome, in Chinese
    expect(widget.input()).to_be_focused()
    expect(page.get_by_role("button", name="发送")).to_be_visible()
    expect(page.get_by_role("button", name="关闭对话窗口")).to_be_visible()
    expect(widget.status).to_have_text("")  # connected
    assert widget.sent_of("hello") == [
        {"type": "hello", "session": None, "language": "zh", "after": 0}
    ]


def test_on_a_phone_the_panel_takes_the_whole_screen(browser, channels_stack):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 667})
    page = context.new_page()
    page.goto(f"{channels_stack.api_url}/")
    widget = Widget(page)
    widget.open()
    assert widget.panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(page.get_by_role("button", name="关闭对话窗口")).to_be_in_viewport()
    expect(widget.input()).to_be_in_viewport()
    context.close()


def test_the_pages_css_cannot_break_the_widget(widget):
    widget.page.add_style_tag(
        content="div, section, button, textarea, span { display: none !important; "
        "color: transparent !important; font-size: 1px !important; }"
    )
    expect(widget.launcher).to_be_visible()
    widget.open()
    expect(widget.input()).to_be_visible()
    assert widget.input().evaluate("node => getComputedStyle(node).fontSize") == "16px"


def test_a_chinese_complaint_through_the_widget_to_its_ticket(widget, channels_stack):
    widget.open()
    greeting = widget.say("你好")
    assert "您好" in greeting, greeting
    expect(widget.page.locator(f"{WIDGET} .replies button")).to_have_text(
        ["报修/安装", "我要投诉", "查询进度", "转人工"]  # Rasa's buttons as quick replies
    )
    asked = widget.say("我要投诉，上周买的洗衣机漏水很严重，地板都泡了")
    assert "什么时候" in asked, asked
    assert "怎样处理" in widget.say("上周三")
    assert "电话" in widget.say("要求换新")
    read_back = widget.say("13800138000")
    assert "请确认您的投诉" in read_back and "13800138000" in read_back, read_back
    done = widget.press("正确，提交")
    pressed = widget.sent_of("message")[-1]
    assert pressed["text"] == "正确，提交" and pressed["payload"] == "/affirm"
    assert CLIENT_ID.match(pressed["id"])
    typed = widget.sent_of("message")[0]
    assert typed.keys() == {"type", "id", "text"} and typed["text"] == "你好"  # nothing else
    ref = REF.search(done)
    assert ref, done
    with processes.service_client(channels_stack) as api:
        ticket = api.get(f"/tickets/{ref.group()}").json()
    assert ticket["kind"] == "complaint"
    assert ticket["channel"] == "web"
    assert "漏水" in ticket["description"]
    expect(widget.messages("bot").last).to_contain_text("客服助手")  # who wrote it


def test_a_reload_keeps_the_conversation(widget, channels_stack):
    widget.open()
    assert "保修" in widget.say("保修多久")
    shown = widget.transcript()
    session = widget.session()
    widget.page.reload()
    expect(widget.panel).to_be_visible()  # left open: open again
    expect(widget.messages()).to_have_count(len(shown))
    assert widget.transcript() == shown
    expect(widget.status).to_have_text("")
    hello = widget.sent_of("hello")[-1]
    assert hello["session"] == session and hello["after"] > 0  # the same session, after it
    assert "不客气" in widget.say("谢谢")
    assert widget.session() == session
    _, messages = conversation_log(channels_stack, session)
    assert customer_texts(messages) == ["保修多久", "谢谢"]  # one conversation, each once


def test_an_agents_reply_appears_without_a_reload(widget, channels_stack):
    widget.open()
    widget.page.evaluate("() => { window.notReloaded = true; }")
    agent = processes.staff_client(channels_stack, "agent-zhao", "supervisor", "correct-horse-9")
    with agent:
        agent.put("/staff/me/availability", json={"available": True}).raise_for_status()
        try:
            queued = widget.say("转人工")
            conversation, _ = conversation_log(channels_stack, widget.session())
            agent.post(f"/conversations/{conversation['id']}/claim").raise_for_status()
            try:
                talk_to_the_agent(widget, agent, conversation["id"])
            finally:
                agent.post(f"/conversations/{conversation['id']}/release")
        finally:
            agent.put("/staff/me/availability", json={"available": False})
    online = re.search(r"目前有 (\d+) 位客服在线", queued)
    assert online and int(online.group(1)) >= 1, queued  # agents_available, as the bot says
    assert conversation["mode"] == "waiting"
    _, messages = conversation_log(channels_stack, widget.session())
    assert customer_texts(messages)[-1] == "脱水时噪音很大"
    pushed = [m for m in messages if m["sender"] == "agent"]
    assert len(pushed) == 1 and pushed[0]["delivered_at"]  # the push counted as delivered


def talk_to_the_agent(widget: Widget, agent: httpx.Client, conversation_id: int) -> None:
    """The agent's reply arrives by itself, rendered safely; the customer answers."""
    agent.post(
        f"/conversations/{conversation_id}/messages",
        json={"text": "您好，我是客服**小赵**。\n请问<b>洗衣机</b>出了什么问题？"},
    ).raise_for_status()
    reply = widget.messages("agent").last
    expect(reply).to_contain_text("我是客服小赵", timeout=10_000)
    expect(reply.locator(".who")).to_have_text("人工客服：")  # for eyes and ears
    expect(reply.locator("strong")).to_have_text("小赵")  # **bold**
    expect(reply.locator("br")).to_have_count(1)  # the line break
    expect(reply).to_contain_text("请问<b>洗衣机</b>出了什么问题")  # as text, not HTML
    expect(reply.locator("b")).to_have_count(0)
    assert widget.page.evaluate("() => window.notReloaded") is True
    widget.say("脱水时噪音很大")


def test_english_ui_and_the_keyboard(browser, channels_stack):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    widget = Widget(page)
    page.goto(f"{channels_stack.api_url}/")
    expect(widget.launcher).to_have_text("在线客服")  # the page is Chinese (<html lang>)
    widget.launcher.focus()
    page.keyboard.press("Enter")  # opens
    expect(widget.panel).to_be_visible()
    expect(widget.input()).to_be_focused()
    expect(widget.status).to_have_text("")  # connected: the switch is a frame of its own
    page.get_by_role("button", name="Switch to English").click()
    expect(widget.launcher).to_have_text("Chat with us")
    expect(page.get_by_role("dialog", name="After-sales service")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Close the chat")).to_be_visible()
    expect(page.get_by_role("button", name="切换到中文")).to_be_visible()
    expect(widget.input("Your message")).to_have_attribute("placeholder", "Type your question…")
    expect(widget.log).to_contain_text("after-sales assistant")  # the welcome, in English
    assert widget.sent_of("language") == [{"type": "language", "language": "en"}]
    widget.input("Your message").focus()
    answer = widget.say("what is your hotline number", box="Your message")
    assert "hotline is 400-800-1234" in answer, answer
    expect(widget.messages("bot").last.locator(".who")).to_have_text(re.compile("^Assistant:"))
    page.keyboard.press("Escape")  # closes, focus back on the launcher
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    context.close()


def shop_site(widget_src: str) -> Starlette:
    """A shop's own site, elsewhere, with the one tag on its (Chinese) page."""
    page = (
        '<!doctype html><html lang="zh"><head><title>Shop</title></head><body><h1>Shop</h1>'
        f'<script src="{widget_src}" async data-lang="en"></script></body></html>'
    )
    return Starlette(routes=[Route("/", lambda _request: HTMLResponse(page))])


def test_embedded_on_another_site_with_data_lang(browser, channels_stack):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    widget = Widget(page)
    with serve(shop_site(f"{channels_stack.api_url}/widget.js")) as shop:
        assert shop != channels_stack.api_url  # another origin
        page.goto(f"{shop}/")
        expect(widget.launcher).to_have_text("Chat with us")  # data-lang over the page's
        widget.open()
        answer = widget.say("hello", box="Your message")
    assert "after-sales assistant" in answer, answer  # the socket is the script's host's
    assert widget.sent_of("hello")[0]["language"] == "en"
    context.close()


class Relay:
    """Between the widget and the gateway (Playwright's WebSocket routing): forwards
    every frame, but can drop the connection at the first ack (after the server logged
    the message), refuse connections for a while, or hold the server's frames after a
    typing frame until `release`."""

    def __init__(self, page: Page) -> None:
        self.drop_at_ack = False
        self.refuse = False
        self.hold = False
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        self.connections = 0
        page.route_web_socket(SOCKET, self._route)

    def _route(self, page_side: WebSocketRoute) -> None:
        if self.refuse:
            page_side.close()
            return
        self.connections += 1
        server = page_side.connect_to_server()

        def to_page(message: str | bytes) -> None:
            kind = json.loads(message)["type"]
            if self.drop_at_ack and kind == "ack":
                self.drop_at_ack = False
                server.close()
                page_side.close()
            elif self.hold and (self.held or kind != "typing"):
                self.held.append((page_side, message))
            else:
                page_side.send(message)

        server.on_message(to_page)

    def release(self) -> None:
        self.hold = False
        for page_side, message in self.held:
            page_side.send(message)
        self.held.clear()


def test_the_typing_indicator_shows_while_the_assistant_answers(widget):
    relay = Relay(widget.page)
    widget.open()
    typing = widget.page.locator(f"{WIDGET} .typing")
    expect(typing).to_have_attribute("role", "status")
    widget.page.wait_for_function(  # welcomed: the session is issued and kept
        "() => Object.entries(localStorage).some(([key, value]) =>"
        " key.startsWith('aftersales-widget:') && JSON.parse(value).session)"
    )
    relay.hold = True  # the frames after "typing on" wait
    widget.input().fill("保修多久")
    widget.input().press("Enter")
    expect(typing).to_have_text("客服正在输入…")
    expect(widget.log).to_have_attribute("aria-busy", "true")
    relay.release()
    assert "保修" in widget.answer()
    expect(typing).to_have_text("")


def test_a_message_whose_ack_was_lost_is_sent_again_and_logged_once(widget, channels_stack):
    relay = Relay(widget.page)
    widget.open()
    expect(widget.status).to_have_text("")
    relay.drop_at_ack = True
    widget.input().fill("你好")
    widget.input().press("Enter")
    expect(widget.status).to_have_text("连接已断开，正在重新连接…")
    greeting = widget.answer()  # after the reconnect: the history, then the resend's ack
    assert "您好" in greeting, greeting
    expect(widget.status).to_have_text("")
    assert relay.connections == 2
    sent = widget.sent_of("message")
    assert len(sent) == 2 and sent[0] == sent[1]  # the same id, sent again
    _, messages = conversation_log(channels_stack, widget.session())
    assert customer_texts(messages) == ["你好"]  # logged once
    expect(widget.bodies("customer")).to_have_text(["你好"])  # shown once
    assert widget.bodies("bot").all_inner_texts() == [
        m["text"] for m in messages if m["sender"] == "bot"
    ]


def test_a_message_written_offline_survives_a_reload_and_is_sent_when_back(widget, channels_stack):
    relay = Relay(widget.page)
    widget.open()
    widget.say("你好")
    relay.refuse = True
    widget.page.reload()  # the socket goes with the page, and no new one gets through
    expect(widget.status).to_have_text("连接已断开，正在重新连接…")
    widget.input().fill("洗衣机漏水")
    widget.input().press("Enter")
    expect(widget.messages("customer").last.locator(".note")).to_have_text("待发送")
    widget.page.reload()
    expect(widget.bodies("customer")).to_have_text(["你好", "洗衣机漏水"])
    expect(widget.messages("customer").last.locator(".note")).to_have_text("待发送")
    relay.refuse = False  # back: the outbox goes out at the next attempt (back-off ≤ 4 s)
    assert "漏水" not in widget.answer()  # acknowledged; the bot asks something back
    _, messages = conversation_log(channels_stack, widget.session())
    assert customer_texts(messages) == ["你好", "洗衣机漏水"]
    assert [m["channel_message_id"] for m in messages if m["sender"] == "customer"] == [
        frame["id"] for frame in widget.sent_of("message")
    ]
