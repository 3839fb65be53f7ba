"""A local double of the Telegram Bot API on 127.0.0.1, for python-telegram-bot to talk to.

It answers as Telegram does (`{"ok": true, "result": …}`, or `{"ok": false, "error_code",
"description"}`), reads JSON, form-encoded and multipart requests alike (the library sends
form fields, nested values JSON-encoded), and keeps what a test needs: the updates it
hands out with `getUpdates` (long polling, honouring `offset` and `timeout`; an offset
confirms and drops the updates before it; 409 while a webhook is set), the webhook it was
given (updates are then POSTed there with the secret token, as Telegram does), and every
message the bot sent.

Methods: getMe, deleteWebhook, setWebhook, getWebhookInfo, getUpdates, sendMessage,
answerCallbackQuery, sendChatAction. See https://core.telegram.org/bots/api.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.serving import serve

TOKEN = "123456:TEST-token_of-the-double"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "After-sales", "username": "aftersales_bot"}


def ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def error(code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )


async def parameters(request: Request) -> dict[str, Any]:
    """The call's parameters: query string, then JSON or form fields (nested values come
    JSON-encoded in forms)."""
    found: dict[str, Any] = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if "application/json" in kind:
        found.update(await request.json())
    elif kind:
        for name, value in (await request.form()).items():
            if isinstance(value, str) and value[:1] in "[{":
                value = json.loads(value)
            found[name] = value
    return found


class TelegramBotApi:
    """The double; `running()` serves it and yields it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self.confirmed = 0  # updates below this id were confirmed by an offset
        self.sent: list[dict[str, Any]] = []  # sendMessage calls, in order
        self.answered: list[str] = []  # callback query ids answered
        self.webhook: dict[str, Any] | None = None
        self.webhook_answers: list[int] = []  # the status of each webhook POST
        self.calls: list[str] = []  # every method called
        self.url = ""
        self.app = self._build()

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[TelegramBotApi]:
        double = cls()
        with serve(double.app) as url:
            double.url = url
            yield double

    @property
    def env(self) -> dict[str, str]:
        """The gateway's settings that point it here."""
        return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": f"{self.url}/bot"}

    # ------------------------------------------------------------------ playing Telegram

    def customer_says(self, chat_id: int, text: str, language_code: str = "zh") -> int:
        """A private message from customer `chat_id`; returns the update id."""
        sender = {"id": chat_id, "is_bot": False, "first_name": "Customer",
                  "language_code": language_code}  # fmt: skip
        message = {
            "message_id": next(self._message_ids),
            "from": sender,
            "chat": {"id": chat_id, "type": "private", "first_name": "Customer"},
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return self.push({"message": message})

    def customer_sends_sticker(self, chat_id: int) -> int:
        sticker = {"file_id": "s-1", "file_unique_id": "s1", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False}  # fmt: skip
        message = {
            "message_id": next(self._message_ids),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Customer"},
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "sticker": sticker,
        }
        return self.push({"message": message})

    def press_button(self, chat_id: int, sent: dict[str, Any], title: str) -> int:
        """The customer presses the inline button `title` under a message the bot sent."""
        keyboard = sent["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in keyboard for b in row if b["text"] == title)
        query = {
            "id": f"cq-{next(self._message_ids)}",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Customer",
                     "language_code": "zh"},
            "message": sent["result"],
            "chat_instance": f"ci-{chat_id}",
            "data": data,
        }  # fmt: skip
        return self.push({"callback_query": query})

    def push(self, body: dict[str, Any], update_id: int | None = None) -> int:
        """Queue an update (again, with `update_id`: a redelivery), or POST it to the
        webhook if one is set."""
        update = {"update_id": update_id or next(self._update_ids), **body}
        if self.webhook:
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            answer = httpx.post(self.webhook["url"], json=update, headers=headers, timeout=60)
            self.webhook_answers.append(answer.status_code)
        else:
            with self._lock:
                self._updates.append(update)
        return update["update_id"]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if int(m["chat_id"]) == chat_id]

    def wait_for(self, check: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := check()):
            if time.monotonic() > deadline:
                raise AssertionError("the Telegram double waited in vain")
            time.sleep(0.05)
        return result

    def replies_after(self, chat_id: int, count: int, timeout: float = 30) -> list[dict]:
        """The messages sent to `chat_id` after its first `count`, once some arrived and
        no more come for a moment."""
        self.wait_for(lambda: len(self.sent_to(chat_id)) > count, timeout)
        settled = -1
        while settled != len(self.sent_to(chat_id)):
            settled = len(self.sent_to(chat_id))
            time.sleep(0.4)
        return self.sent_to(chat_id)[count:]

    # ------------------------------------------------------------------ the Bot API

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def call(token: str, method: str, request: Request) -> JSONResponse:
            if token != TOKEN:
                return error(401, "Unauthorized")
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                return error(404, "Not Found: method not found")
            self.calls.append(method)
            return await handler(await parameters(request))

        return app

    async def _getMe(self, _params: dict) -> JSONResponse:
        return ok(BOT_USER | {"can_join_groups": True, "can_read_all_group_messages": False,
                              "supports_inline_queries": False})  # fmt: skip

    async def _setWebhook(self, params: dict) -> JSONResponse:
        if not str(params.get("url", "")).startswith("http"):
            return error(400, "Bad Request: bad webhook: an HTTPS URL must be provided")
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return ok(True)

    async def _deleteWebhook(self, _params: dict) -> JSONResponse:
        self.webhook = None
        return ok(True)

    async def _getWebhookInfo(self, _params: dict) -> JSONResponse:
        with self._lock:
            pending = len(self._updates)
        url = self.webhook["url"] if self.webhook else ""
        return ok({"url": url, "has_custom_certificate": False, "pending_update_count": pending})

    async def _getUpdates(self, params: dict) -> JSONResponse:
        if self.webhook:
            return error(
                409, "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )  # fmt: skip
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if offset:
                    self.confirmed = max(self.confirmed, offset)
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                found = self._updates[:limit]
            if found or time.monotonic() >= deadline:
                return ok(found)
            await asyncio.sleep(0.05)

    async def _sendMessage(self, params: dict) -> JSONResponse:
        if not params.get("text"):
            return error(400, "Bad Request: message text is empty")
        chat_id = int(params["chat_id"])
        result = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "text": params["text"],
        }
        if params.get("reply_markup"):
            result["reply_markup"] = params["reply_markup"]
            for row in params["reply_markup"].get("inline_keyboard", []):
                for button in row:
                    if len(button.get("callback_data", "").encode()) > 64:
                        return error(400, "Bad Request: BUTTON_DATA_INVALID")
        self.sent.append({**params, "chat_id": chat_id, "result": result})
        return ok(result)

    async def _answerCallbackQuery(self, params: dict) -> JSONResponse:
        self.answered.append(params["callback_query_id"])
        return ok(True)

    async def _sendChatAction(self, _params: dict) -> JSONResponse:
        return ok(True)
