"""The console's QA page in headless Chromium (S8.2): a supervisor draws a sample of closed
tickets, scores one as failed and one as passed, sees the figures, in Chinese and English;
the agent who handled the failed ticket sees the rectification and closes it.

Only the API is needed (no assistant): the test app served by uvicorn, on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from api.models import Ticket
from tests.api.helpers import delivered
from tests.browser import chromium
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def console(browser: Browser, url: str, username: str) -> Page:
    """The console logged in as `username`, on the QA page, in Chinese."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{url}/console/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".connection")).to_have_text("实时连接")
    page.click("header.top >> text=质检")
    return page


def test_draw_score_and_rectify_in_the_console(
    browser, live_server, db, client, make_staff, service_headers
):
    agent = make_staff("qa.agent", "agent", display_name="李客服")
    make_staff("qa.lead", "supervisor", display_name="王主管")
    refs = {delivered(client, service_headers, agent) for _ in range(2)}
    with db.writer() as session:  # the first was acknowledged late: the reviewer sees it
        ticket = session.scalar(select(Ticket).where(Ticket.ref == min(refs)))
        ticket.acknowledge_breached_at = ticket.acknowledged_at
        session.commit()

    lead = console(browser, live_server, "qa.lead")
    lead.fill("#qa-count", "2")
    lead.get_by_role("button", name="抽样").click()
    cards = lead.locator(".qa-sample article.card")
    expect(cards).to_have_count(2)
    expect(lead.locator("#toast")).to_contain_text("已抽取: 2 / 2")
    expect(lead.locator(".qa-samples tbody tr")).to_have_count(1)

    failing = cards.first
    failed_ref = failing.locator("b").inner_text()
    assert failed_ref == min(refs)  # in ticket order
    expect(failing).to_contain_text("处理人: 李客服")
    expect(failing).to_contain_text("已超时工单: 受理时限")
    failing.get_by_label("处理结果正确并已向客户解释清楚").select_option("0")
    failing.get_by_label("评审意见").fill("没有向客户解释更换原因")
    failing.get_by_role("button", name="提交评分").click()
    expect(failing.locator(".badge")).to_have_text("不合格")
    expect(failing).to_contain_text("75% (≥ 80%)")
    passing = cards.nth(1)
    passing.get_by_role("button", name="提交评分").click()
    expect(passing.locator(".badge")).to_have_text("合格")

    rectifications = lead.locator(".qa-rectifications")
    expect(rectifications.locator("h2")).to_have_text("待整改 (1)")
    expect(rectifications).to_contain_text(failed_ref)
    expect(rectifications).to_contain_text("未达标项: 处理结果正确并已向客户解释清楚")
    figures = lead.locator(".qa-figures")
    expect(figures).to_contain_text("50%")  # the pass rate
    resolution = figures.locator("table.qa-criteria tr", has_text="处理结果正确")
    expect(resolution.locator("td")).to_have_text(["1", "0", "1"])  # not met, partly, mean

    lead.click("header.top button[aria-label='Switch to English']")
    expect(lead.locator(".qa-rectifications h2")).to_have_text("Open rectifications (1)")
    expect(lead.locator(".qa-figures")).to_contain_text("Pass rate")
    expect(lead.locator(".qa-draw")).to_contain_text("Draw a QA sample")

    handler = console(browser, live_server, "qa.agent")
    expect(handler.locator(".qa-draw")).to_have_count(0)  # agents do not sample
    mine = handler.locator(".qa-rectifications")
    expect(mine.locator("h2")).to_have_text("我的整改任务 (1)")
    expect(mine).to_contain_text("没有向客户解释更换原因")
    mine.get_by_label("整改说明").fill("已致电客户说明更换原因")
    mine.get_by_role("button", name="完成整改").click()
    expect(mine.locator("h2")).to_have_text("我的整改任务 (0)")

    lead.reload()
    expect(lead.locator(".qa-figures")).to_contain_text("Open rectifications")
    verify = client.get("/api/v1/audit/verify", headers=make_staff("qa.auditor", "admin")[1])
    assert verify.json()["ok"] is True
    for page in (lead, handler):
        page.context.close()
