"""The web chat widget as a customer sees it, for the browser tests (the widget's own
and the console's)."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, expect

TIMEOUT = 20_000  # ms: a bot turn with the action server and the API
WIDGET = "#aftersales-widget"


class Widget:
    """The widget as a customer sees it, on a page of its own. Playwright's locators
    pierce its shadow root; `sent` records every frame the widget sent."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.sent: list[dict[str, Any]] = []
        page.on("websocket", lambda ws: ws.on("framesent", self._record))
        self.launcher = page.locator(f"{WIDGET} .launcher")
        self.panel = page.locator(f"{WIDGET} .panel")
        self.log = page.get_by_role("log")
        self.status = page.locator(f"{WIDGET} .status")

    def _record(self, payload: str | bytes) -> None:
        self.sent.append(json.loads(payload))

    def input(self, name: str = "您的消息"):
        return self.page.get_by_role("textbox", name=name)

    def messages(self, who: str | None = None):
        return self.page.locator(f"{WIDGET} .msg" + (f".{who}" if who else ""))

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def say(self, text: str, box: str = "您的消息") -> str:
        """Type and send with Enter; the answer (see `answer`)."""
        self.input(box).fill(text)
        self.input(box).press("Enter")
        return self.answer()

    def press(self, title: str) -> str:
        """Press a quick reply; the answer."""
        self.page.locator(f"{WIDGET} .replies button", has_text=title).click()
        return self.answer()

    def answer(self) -> str:
        """Once the customer's last message is acknowledged and the log no longer busy
        (the widget holds aria-busy until the replies the ack announced have come): the
        texts after it, one per line."""
        expect(self.messages("customer").last.locator(".note")).to_have_text("", timeout=TIMEOUT)
        expect(self.log).to_have_attribute("aria-busy", "false", timeout=TIMEOUT)
        return "\n".join(self.transcript()[self._last_customer() + 1 :])

    def bodies(self, who: str | None = None):
        """The messages' texts, without who wrote them."""
        return self.page.locator(f"{WIDGET} .msg" + (f".{who}" if who else "") + " .body")

    def transcript(self) -> list[str]:
        return self.messages().all_inner_texts()

    def _last_customer(self) -> int:
        classes = self.messages().evaluate_all("nodes => nodes.map(n => n.className)")
        return max(i for i, names in enumerate(classes) if "customer" in names.split())

    def sent_of(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.sent if frame["type"] == kind]

    def session(self) -> str:
        """The session token, as the widget keeps it in localStorage."""
        stored = self.page.evaluate(
            "() => Object.entries(localStorage)"
            ".find(([key]) => key.startsWith('aftersales-widget:'))[1]"
        )
        return json.loads(stored)["session"]
