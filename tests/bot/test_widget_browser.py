"""The web chat widget in headless Chromium against the real stack (issue #4 §2, §5): the
demo page, a Chinese complaint to its ticket, a reload that keeps the conversation, an
agent's reply arriving live, the English UI and the keyboard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.channels.web import external_id_of
from tests import processes
from tests.browser import chromium

pytestmark = pytest.mark.slow

REF = re.compile(r"CS-\d{8}-\d{4,}")
TIMEOUT = 20_000  # ms: a bot turn with the action server and the API


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[processes.Stack]:
    if not processes.MODEL.exists():
        pytest.fail(f"no trained model at {processes.MODEL}: run `make train`")
    with processes.stack(tmp_path_factory.mktemp("var")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser, stack) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{stack.api_url}/")
    yield page
    context.close()


class WidgetPage:
    """The widget as a customer sees it (inside its shadow root: Playwright's CSS
    locators pierce it)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator("#aftersales-widget .launcher")
        self.log = page.locator("#aftersales-widget .log")
        self.input = page.locator("#aftersales-widget textarea")

    def open(self) -> None:
        self.launcher.click()
        expect(self.page.locator("#aftersales-widget .panel")).to_be_visible()

    def messages(self, who: str | None = None):
        selector = "#aftersales-widget .msg" + (f".{who}" if who else "")
        return self.page.locator(selector)

    def say(self, text: str) -> str:
        """Type and send; the text of the replies that came back to it."""
        self.input.fill(text)
        self.input.press("Enter")
        mine = self.messages("customer").filter(has_text=text).last
        expect(mine.locator(".note")).to_have_count(0, timeout=TIMEOUT)  # acknowledged
        return self.replies()

    def replies(self) -> str:
        """The messages after the customer's last one, once they stop coming (the
        replies to a message follow its ack in one burst)."""
        return self.page.evaluate(
            """() => new Promise(resolve => {
                const log = document.querySelector('#aftersales-widget').shadowRoot
                    .querySelector('.log');
                const after = () => {
                    const nodes = [...log.querySelectorAll('.msg')];
                    const mine = nodes.map(n => n.classList.contains('customer'))
                        .lastIndexOf(true);
                    return nodes.slice(mine + 1).map(n => n.innerText);
                };
                let count = -1, still = 0, ticks = 0;
                const tick = setInterval(() => {  // at most 20 s: a turn without a reply
                    const now = after().length;
                    still = now > 0 && now === count ? still + 1 : 0;
                    count = now;
                    if (still >= 3 || ++ticks > 200) {
                        clearInterval(tick);
                        resolve(after().join('\\n'));
                    }
                }, 100);
            })"""
        )

    def press(self, title: str) -> None:
        self.page.locator("#aftersales-widget .replies button", has_text=title).click()


def test_demo_page_embeds_the_widget_in_the_pages_language(page):
    widget = WidgetPage(page)
    expect(widget.launcher).to_have_text("在线客服")
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    widget.open()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#aftersales-widget [role=log]")).to_contain_text("售后服务助手")
    expect(widget.input).to_be_focused()


def test_chinese_complaint_through_the_widget_to_its_ticket(page, stack):
    widget = WidgetPage(page)
    widget.open()
    widget.say("你好")
    widget.say("我要投诉")
    widget.say("洗衣机")
    widget.say("洗衣机脱水的时候声音特别大，像要散架一样")
    widget.say("上周三")
    widget.say("要求换新")
    read_back = widget.say("13800138000")
    assert "13800138000" in read_back or "8000" in read_back, read_back
    done = widget.say("对")
    ref = REF.search(done)
    assert ref, done
    with processes.service_client(stack) as api:
        ticket = api.get(f"/tickets/{ref.group()}").json()
    assert ticket["kind"] == "complaint"
    assert ticket["channel"] == "web"
    assert "脱水" in ticket["description"]


def session_of(page: Page) -> str:
    """The widget's session token, as it keeps it in localStorage."""
    stored = page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftersales-widget:'))[1]"
    )
    return json.loads(stored)["session"]


def log_of(stack: processes.Stack, page: Page) -> tuple[dict, list[dict]]:
    with processes.service_client(stack) as api:
        found = api.get(f"/conversations/by-channel/web/{external_id_of(session_of(page))}")
        conversation = found.json()
        messages = api.get(f"/conversations/{conversation['id']}/messages").json()
    return conversation, messages


def test_a_reload_keeps_the_conversation(page, stack):
    widget = WidgetPage(page)
    widget.open()
    widget.say("保修多久")
    shown = widget.messages().all_inner_texts()
    page.reload()
    widget = WidgetPage(page)
    expect(page.locator("#aftersales-widget .panel")).to_be_visible()  # still open
    expect(widget.messages()).to_have_count(len(shown))
    assert widget.messages().all_inner_texts() == shown
    widget.say("谢谢")
    _, messages = log_of(stack, page)
    said = [m["text"] for m in messages if m["direction"] == "in"]
    assert said == ["保修多久", "谢谢"]  # one conversation across the reload


def test_an_agents_reply_appears_without_a_reload(page, stack):
    widget = WidgetPage(page)
    widget.open()
    with processes.staff_client(stack, "agent-zhao", "supervisor", "correct-horse-9") as agent:
        agent.put("/staff/me/availability", json={"available": True}).raise_for_status()
        widget.say("转人工")
        conversation, _ = log_of(stack, page)
        assert conversation["mode"] == "waiting"
        agent.post(f"/conversations/{conversation['id']}/claim").raise_for_status()
        agent.post(
            f"/conversations/{conversation['id']}/messages",
            json={"text": "您好，我是客服小赵，请问洗衣机出了什么问题？"},
        ).raise_for_status()
        reply = widget.messages("agent").last
        expect(reply).to_contain_text("我是客服小赵", timeout=5_000)
        expect(reply).to_contain_text("人工客服")  # who wrote it, for the eye and screen readers
        widget.input.fill("脱水时噪音很大")
        widget.input.press("Enter")
        expect(widget.messages("customer").last.locator(".note")).to_have_count(0)
        agent.post(f"/conversations/{conversation['id']}/release").raise_for_status()
        agent.put("/staff/me/availability", json={"available": False}).raise_for_status()
    _, messages = log_of(stack, page)
    assert [m["text"] for m in messages if m["sender"] == "customer"][-1] == "脱水时噪音很大"


def test_english_ui_and_the_keyboard(browser, stack):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{stack.api_url}/")
    widget = WidgetPage(page)
    page.locator("#aftersales-widget .launcher").focus()
    expect(widget.launcher).to_have_text("在线客服")  # the demo page is Chinese (<html lang>)
    page.keyboard.press("Enter")  # opens
    expect(widget.input).to_be_focused()
    page.locator("#aftersales-widget .lang").click()  # switch to English
    expect(widget.launcher).to_have_text("Chat with us")
    expect(page.locator("#aftersales-widget .send")).to_have_text("Send")
    expect(widget.input).to_have_attribute("placeholder", "Type your question…")
    replies = widget.say("what is your hotline number")
    assert "400-800-1234" in replies
    page.keyboard.press("Escape")  # closes, focus back on the launcher
    expect(page.locator("#aftersales-widget .panel")).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    context.close()
