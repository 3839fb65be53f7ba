"""The agent console in headless Chromium against the real stack (issue #5): a customer in
the widget or on Telegram (the Bot API double) asks for a human, an agent claims them in the
console, they talk, the agent resolves the ticket and ends the handoff, the bot asks the
customer for a rating, the rating lands on the ticket; two agents claiming at once; role
boundaries; a reply typed offline; the supervisor's view and canned replies."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.channels.web import external_id_of
from tests import processes
from tests.bot.doubles.telegram import TelegramBotApi
from tests.browser import chromium
from tests.widget_page import Widget

pytestmark = pytest.mark.slow

PASSWORD = "correct-horse-9"
REF = re.compile(r"CS-\d{8}-\d{4,}")
_names = itertools.count(1)


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramBotApi]:
    with TelegramBotApi.running() as double:
        yield double


@pytest.fixture(scope="module")
def stack(tmp_path_factory, telegram) -> Iterator[processes.Stack]:
    if not processes.MODEL.exists():
        pytest.fail(f"no trained model at {processes.MODEL}: run `make train`")
    with processes.stack(tmp_path_factory.mktemp("var"), extra_env=telegram.env) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def staff(stack: processes.Stack, role: str = "agent") -> str:
    """A new staff member (created with the CLI, as the README shows); their username."""
    name = f"{role}-{next(_names)}"
    with processes.staff_client(stack, name, role, PASSWORD):
        pass
    return name


class Console:
    """The console as an agent uses it."""

    def __init__(self, browser: Browser, stack: processes.Stack, username: str) -> None:
        self.context = browser.new_context(locale="zh-CN")
        self.page: Page = self.context.new_page()
        self.page.goto(f"{stack.api_url}/console/")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        expect(self.page.locator("header.top")).to_be_visible()
        expect(self.page.locator(".connection")).to_have_text("实时连接")

    def available(self) -> None:
        button = self.page.locator("header.top button[aria-pressed]")
        if button.get_attribute("aria-pressed") == "false":
            button.click()
        expect(self.page.locator("header.top button[aria-pressed=true]")).to_be_visible()

    def queue_card(self, conversation_id: int):
        return self.page.locator(f".card[data-id='{conversation_id}']")

    def claim(self, conversation_id: int) -> None:
        self.queue_card(conversation_id).get_by_role("button").click()
        expect(self.page.locator("#reply")).to_be_enabled()

    def reply(self, text: str) -> None:
        self.page.fill("#reply", text)
        self.page.press("#reply", "Enter")

    def transcript(self):
        return self.page.locator(".transcript")

    def close(self) -> None:
        self.context.close()


def widget_customer(browser: Browser, stack: processes.Stack) -> Page:
    """A customer on the demo page with the chat open (close its `.context` after)."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{stack.api_url}/")
    Widget(page).open()
    return page


def conversation_of(stack: processes.Stack, channel: str, external_id: str) -> dict:
    with processes.service_client(stack) as api:
        return api.get(f"/conversations/by-channel/{channel}/{external_id}").json()


def web_conversation(stack: processes.Stack, page: Page) -> dict:
    return conversation_of(stack, "web", external_id_of(Widget(page).session()))


def complain_in_widget(widget: Widget) -> str:
    """A complaint filed with the bot; its ticket reference."""
    for text in (
        "我要投诉",
        "洗衣机",
        "洗衣机脱水的时候声音特别大",
        "昨天",
        "要求换新",
        "13800138000",
    ):
        widget.say(text)
    done = widget.say("对")
    ref = REF.search(done)
    assert ref, done
    return ref.group()


def test_an_unauthenticated_browser_sees_only_the_login(browser, stack):
    page = browser.new_page(locale="zh-CN")  # the console follows the browser's language
    page.goto(f"{stack.api_url}/console/#/supervisor")
    expect(page.locator("form.login")).to_be_visible()
    expect(page.locator("header.top")).to_have_count(0)
    expect(page.locator(".workspace")).to_have_count(0)
    page.fill("#username", "nobody")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".login .error")).to_have_text("用户名或密码错误")
    page.close()


def test_widget_customer_to_agent_and_back_to_the_bot_for_the_rating(browser, stack):
    console = Console(browser, stack, staff(stack, "agent"))
    console.available()
    customer = widget_customer(browser, stack)
    widget = Widget(customer)
    ref = complain_in_widget(widget)
    widget.say("转人工")
    conversation = web_conversation(stack, customer)
    asked = time.monotonic()
    expect(console.queue_card(conversation["id"])).to_be_visible(timeout=2_000)  # live
    assert time.monotonic() - asked < 2
    expect(console.queue_card(conversation["id"])).to_contain_text("客户要求转人工")
    expect(console.queue_card(conversation["id"])).to_contain_text(ref)

    console.claim(conversation["id"])
    expect(console.transcript()).to_contain_text("洗衣机脱水的时候声音特别大")  # the bot's part
    console.reply("您好，我是客服，马上为您安排换新。")
    expect(widget.messages("agent").last).to_contain_text("马上为您安排换新", timeout=5_000)
    widget.input().fill("好的，谢谢")
    widget.input().press("Enter")
    expect(console.transcript()).to_contain_text("好的，谢谢", timeout=5_000)

    panel = console.page.locator("aside.panel")
    expect(panel).to_contain_text(ref)
    for action in ("acknowledge", "investigate"):
        panel.locator(f"button[data-action={action}]").click()
        expect(panel.locator(f"button[data-action={action}]")).to_have_count(0)
    console.page.fill("#ticket-resolution", "已安排上门更换新机。")
    panel.locator("button[data-action=resolve]").click()
    expect(panel.locator("#ticket-status")).to_have_text("已解决")
    expect(widget.messages("agent").last).to_contain_text("已安排上门更换新机", timeout=5_000)

    console.page.get_by_role("button", name="结束人工服务").click()
    expect(widget.messages("bot").last).to_contain_text("打分", timeout=20_000)  # the bot asks
    widget.say("5")
    widget.say("师傅很专业")
    with processes.service_client(stack) as api:
        ticket = api.get(f"/tickets/{ref}").json()
    assert ticket["feedback"]["rating"] == 5
    assert ticket["status"] == "closed"
    console.close()
    customer.context.close()


def test_telegram_customer_through_the_console(browser, stack, telegram):
    console = Console(browser, stack, staff(stack, "agent"))
    console.available()
    chat = 990001
    sent = 0

    def say(text: str) -> str:
        nonlocal sent
        telegram.customer_says(chat, text)
        replies = telegram.replies_after(chat, sent, timeout=60)
        sent += len(replies)
        return "\n".join(r["text"] for r in replies)

    say("我要投诉，上周买的洗衣机漏水很严重，地板都泡了")
    say("上周三")
    say("要求换新")
    say("13800138000")
    ref = REF.search(say("对")).group()
    say("转人工")
    conversation = conversation_of(stack, "telegram", str(chat))
    expect(console.queue_card(conversation["id"])).to_be_visible(timeout=2_000)
    console.claim(conversation["id"])
    console.reply("您好，这里是人工客服。")
    [agent_says] = telegram.replies_after(chat, sent)
    sent += 1
    assert agent_says["text"] == "您好，这里是人工客服。"
    telegram.customer_says(chat, "地板能赔吗")
    expect(console.transcript()).to_contain_text("地板能赔吗", timeout=5_000)

    panel = console.page.locator("aside.panel")
    for action in ("acknowledge", "investigate"):
        panel.locator(f"button[data-action={action}]").click()
        expect(panel.locator(f"button[data-action={action}]")).to_have_count(0)
    console.page.fill("#ticket-resolution", "更换新机并赔偿地板维修费。")
    panel.locator("button[data-action=resolve]").click()
    expect(panel.locator("#ticket-status")).to_have_text("已解决")
    console.page.get_by_role("button", name="结束人工服务").click()
    replies = telegram.replies_after(chat, sent, timeout=30)  # the resolution, then the bot
    sent += len(replies)
    assert "赔偿地板" in replies[0]["text"]
    assert any("打分" in r["text"] for r in replies)
    say("5")
    say("处理得很及时")
    with processes.service_client(stack) as api:
        ticket = api.get(f"/tickets/{ref}").json()
    assert ticket["feedback"]["rating"] == 5
    console.close()


def test_two_agents_claim_at_once_and_exactly_one_wins(browser, stack):
    first = Console(browser, stack, staff(stack, "agent"))
    second = Console(browser, stack, staff(stack, "agent"))
    first.available()
    second.available()
    customer = widget_customer(browser, stack)
    widget = Widget(customer)
    widget.say("转人工")
    conversation = web_conversation(stack, customer)
    buttons = [c.queue_card(conversation["id"]).get_by_role("button") for c in (first, second)]
    for button in buttons:
        expect(button).to_be_visible(timeout=2_000)
    for button in buttons:  # dispatched without waiting: both requests are in flight together
        button.evaluate("node => node.click()")
    winners = []
    for console in (first, second):
        console.page.wait_for_function(
            "() => document.querySelector('#reply:not([disabled])') || "
            "document.getElementById('toast').classList.contains('shown')"
        )
        winners.append(console.page.locator("#reply:not([disabled])").count() == 1)
    assert sorted(winners) == [False, True]
    loser = (first, second)[winners.index(False)]
    expect(loser.page.locator("#toast")).to_contain_text("已被其他客服接入")
    for console in (first, second):
        console.close()
    customer.context.close()


def test_role_boundaries(browser, stack):
    agent = Console(browser, stack, staff(stack, "agent"))
    expect(agent.page.locator("header.top nav")).not_to_contain_text("主管视图")
    agent.page.goto(f"{stack.api_url}/console/#/supervisor")
    expect(agent.page.locator(".refused")).to_contain_text("无权")

    lead = Console(browser, stack, staff(stack, "supervisor"))
    lead.available()
    customer = widget_customer(browser, stack)
    widget = Widget(customer)
    complain_in_widget(widget)
    widget.say("转人工")
    conversation = web_conversation(stack, customer)
    lead.claim(conversation["id"])
    panel = lead.page.locator("aside.panel")
    expect(panel).to_contain_text("13800138000")  # a supervisor sees the number
    expect(panel).not_to_contain_text("已隐藏")

    # the agent opens the lead's conversation: neither theirs nor their ticket
    agent.page.goto(f"{stack.api_url}/console/#/workspace/{conversation['id']}")
    agent_panel = agent.page.locator("aside.panel")
    expect(agent_panel).to_contain_text("按您的角色已隐藏部分信息")
    expect(agent_panel).to_contain_text("138****8000")
    expect(agent_panel).not_to_contain_text("13800138000")
    expect(agent.page.locator(".chat")).to_contain_text("您没有接入这个会话")  # no replying
    for console in (agent, lead):
        console.close()
    customer.context.close()


def test_a_reply_typed_offline_is_sent_once_when_back_and_a_reload_keeps_the_chat(browser, stack):
    console = Console(browser, stack, staff(stack, "agent"))
    console.available()
    customer = widget_customer(browser, stack)
    widget = Widget(customer)
    widget.say("转人工")
    conversation = web_conversation(stack, customer)
    console.claim(conversation["id"])

    console.context.set_offline(True)
    console.reply("网络断了也不会丢的消息")
    expect(console.transcript().locator(".msg.pending")).to_have_count(1)
    console.context.set_offline(False)
    expect(widget.messages("agent").last).to_contain_text("网络断了也不会丢的消息", timeout=20_000)
    expect(console.transcript().locator(".msg.pending")).to_have_count(0, timeout=20_000)

    console.page.reload()
    expect(console.page.locator("#reply")).to_be_enabled()  # the same conversation, open
    expect(console.transcript()).to_contain_text("网络断了也不会丢的消息")
    with processes.service_client(stack) as api:
        log = api.get(f"/conversations/{conversation['id']}/messages").json()
    assert [m["text"] for m in log if m["sender"] == "agent"] == ["网络断了也不会丢的消息"]
    console.close()
    customer.context.close()


def test_supervisor_view_and_canned_replies(browser, stack):
    lead = Console(browser, stack, staff(stack, "supervisor"))
    lead.page.click("text=快捷回复")
    first = lead.page.locator("form.box").first
    expect(first.locator("input")).not_to_have_value("")
    new = lead.page.locator("form.box").last
    new.locator("input").fill("apology")
    new.locator("textarea").nth(0).fill("非常抱歉给您带来不便。")
    new.locator("textarea").nth(1).fill("We are very sorry for the trouble.")
    new.get_by_role("button", name="新增快捷回复").click()
    # sorted by title: "apology" comes first
    expect(lead.page.locator("form.box").first.locator("input")).to_have_value("apology")

    lead.page.click("text=主管视图")
    expect(lead.page.locator(".page")).to_contain_text("进行中的会话")
    expect(lead.page.locator(".page")).to_contain_text("今日数据")
    expect(lead.page.locator("svg.chart")).to_have_count(3)
    lead.page.click("header.top button[aria-label='Switch to English']")
    expect(lead.page.locator(".page")).to_contain_text("Live conversations")
    lead.close()
