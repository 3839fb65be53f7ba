"""A local double of the Telegram Bot API on 127.0.0.1, for python-telegram-bot to talk to.

It answers as Telegram does (`{"ok": true, "result": …}`, or `{"ok": false, "error_code",
"description"}` with that HTTP status), reads parameters from the query string, JSON,
form-encoded and multipart bodies alike (the library sends form fields, nested values
JSON-encoded), and behaves as https://core.telegram.org/bots/api describes:

- `getUpdates` long-polls, honouring `offset` (an offset confirms and drops the updates
  before it; a negative one keeps only the last ones), `limit`, `timeout` and
  `allowed_updates`; 409 while a webhook is set, and 409 for a poll cut short by a newer
  one ("terminated by other getUpdates request": two pollers of one bot);
- with a webhook set (`setWebhook`, plain http allowed as by a local Bot API server) the
  pending updates are POSTed there one after another with the secret token header; an
  answer other than 2xx keeps the update, sent again after a pause;
- `sendMessage` to a chat that never wrote is "chat not found", to one that blocked the
  bot 403; callback_data over 64 bytes is BUTTON_DATA_INVALID; a callback query can be
  answered once.

A test plays the customers (`customer_says`, `customer_sends`, `press_button`, or a whole
turn: `customer_turn`, `customer_presses`), reads what the bot sent (`sent`,
`replies_after`), which updates were confirmed (`confirmed`, `taken`, `on_confirm`) and
answered (`answered`), and makes Telegram fail (`fail`, `block`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.serving import serve

TOKEN = "7301234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
BOT_USER = {"id": 7301234567, "is_bot": True, "first_name": "After-sales",
            "username": "aftersales_desk_bot"}  # fmt: skip
STICKER = {"file_id": "CAACAgIAAxkBAAEB", "file_unique_id": "AgADkQ", "type": "regular",
           "width": 512, "height": 512, "is_animated": False, "is_video": False}  # fmt: skip
JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "reply_parameters"}
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                "upload_voice", "upload_document", "choose_sticker", "find_location",
                "record_video_note", "upload_video_note"}  # fmt: skip
POLL_STEP = 0.05  # seconds between looks at the queue
WEBHOOK_RETRY = 0.5  # seconds before a refused update is posted again
SETTLE = 0.4  # seconds without a new message after which a chat is quiet
TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; use "
                  "deleteWebhook to delete the webhook first")  # fmt: skip
TERMINATED = ("Conflict: terminated by other getUpdates request; make sure that only one bot "
              "instance is running")  # fmt: skip


class Refusal(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def ok(result: Any, description: str | None = None) -> JSONResponse:
    body = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def refused(refusal: Refusal) -> JSONResponse:
    body = {"ok": False, "error_code": refusal.code, "description": refusal.description}
    if refusal.parameters:
        body["parameters"] = refusal.parameters
    return JSONResponse(body, status_code=refusal.code)


async def parameters(request: Request) -> dict[str, Any]:
    """The call's parameters: query string, then the JSON object or the form fields (in
    forms everything is text; the nested fields are JSON)."""
    found: dict[str, Any] = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = await request.json()
        if not isinstance(body, dict):
            raise Refusal(400, "Bad Request: JSON object expected")
        found.update(body)
    elif kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        found.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    for name in JSON_FIELDS & found.keys():
        if isinstance(found[name], str):
            try:
                found[name] = json.loads(found[name])
            except ValueError:
                raise Refusal(400, f"Bad Request: can't parse {name} JSON object") from None
    return found


def integer(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refusal(400, f"Bad Request: invalid {name} specified") from None


def flag(params: dict[str, Any], name: str) -> bool:
    return params.get(name) in (True, "true", "True", "1", 1)


def update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline buttons under a message the bot sent ({"text", "callback_data"})."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def check_keyboard(markup: Any) -> None:
    if not isinstance(markup, dict):
        raise Refusal(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return  # a reply keyboard, or its removal: not an inline one
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise Refusal(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not button.get("text"):
            raise Refusal(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_LIMIT:
            raise Refusal(400, "Bad Request: BUTTON_DATA_INVALID")


class TelegramBotApi:
    """The double of one bot's Bot API; `running()` serves it and yields it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []  # updates not confirmed yet, in order
        self._made: dict[int, dict[str, Any]] = {}  # every update, by id (redeliveries)
        self._update_ids = itertools.count(310_000_001)
        self._message_ids: dict[int, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._chats: dict[int, dict[str, Any]] = {}  # chats that wrote to the bot
        self._sent: list[dict[str, Any]] = []  # the Message of each sendMessage, in order
        self._queries: dict[str, bool] = {}  # callback query id → answered
        self._failures: dict[str, list[Refusal]] = defaultdict(list)
        self._polls = 0  # getUpdates calls so far (a newer one ends an older one)
        self._allowed: list[str] | None = None
        self.blocked: set[int] = set()
        self.webhook: dict[str, Any] | None = None  # url, secret_token
        self.webhook_answers: list[int | None] = []  # status of each POST (None: no answer)
        self.last_webhook_error: str | None = None
        self.confirmed: list[int] = []  # update ids, as offsets or 2xx webhook answers did
        self.conflicts = 0  # polls cut short by a newer one
        self.calls: list[str] = []  # every method called, in order
        self.actions: list[tuple[int, str]] = []  # sendChatAction
        self.on_confirm: Callable[[dict[str, Any]], None] | None = None
        self.url = ""
        self.app = self._build()

    @classmethod
    @contextmanager
    def running(cls, port: int = 0) -> Iterator[TelegramBotApi]:
        """Served on `port` (0: a free one) until the block ends."""
        double = cls()
        with serve(double.app, port) as url:
            double.url = url
            yield double

    @property
    def env(self) -> dict[str, str]:
        """The gateway's settings that point it here."""
        return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": f"{self.url}/bot"}

    # ------------------------------------------------------------------ the customers

    def customer_says(self, chat_id: int, text: str, language_code: str | None = "zh") -> int:
        """A private text message from customer `chat_id`; returns its update id."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.customer_sends(chat_id, content, language_code)

    def customer_sends(
        self, chat_id: int, content: dict[str, Any], language_code: str | None = "zh"
    ) -> int:
        """Any message, e.g. `{"sticker": STICKER}`; returns its update id."""
        chat = {"id": chat_id, "type": "private", "first_name": "Customer"}
        with self._lock:
            self._chats[chat_id] = chat
            message_id = next(self._message_ids[chat_id])
        message = {"message_id": message_id, "from": self._user(chat_id, language_code),
                   "chat": chat, "date": int(time.time()), **content}  # fmt: skip
        return self._push({"message": message})

    def press_button(
        self, chat_id: int, message: dict[str, Any], data: str, language_code: str | None = "zh"
    ) -> int:
        """The customer presses the button carrying `data` under `message` (one the bot
        sent there); returns the update id."""
        if message["chat"]["id"] != chat_id or data not in [
            b.get("callback_data") for b in buttons(message)
        ]:
            raise ValueError("no such button under that message")
        query_id = f"{chat_id}{next(self._update_ids)}"
        with self._lock:
            self._queries[query_id] = False
        query = {"id": query_id, "from": self._user(chat_id, language_code), "message": message,
                 "chat_instance": f"-{chat_id}", "data": data}  # fmt: skip
        return self._push({"callback_query": query})

    def redeliver(self, update_id: int) -> None:
        """Telegram sends `update_id` again (as after a poller died before confirming it)."""
        with self._lock:
            self._pending.append(self._made[update_id])
            self._pending.sort(key=lambda u: u["update_id"])

    @staticmethod
    def _user(chat_id: int, language_code: str | None) -> dict[str, Any]:
        user = {"id": chat_id, "is_bot": False, "first_name": "Customer"}
        return user | ({"language_code": language_code} if language_code else {})

    def _push(self, body: dict[str, Any]) -> int:
        update = {"update_id": next(self._update_ids), **body}
        with self._lock:
            self._made[update["update_id"]] = update
            self._pending.append(update)
        return update["update_id"]

    # ------------------------------------------------------------------ what a test reads

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to `chat_id`, as Telegram returned them."""
        with self._lock:
            return [m for m in self._sent if m["chat"]["id"] == chat_id]

    def taken(self, update_id: int) -> bool:
        """Confirmed by an offset, or answered 2xx by the webhook."""
        with self._lock:
            return update_id in self.confirmed

    def answered(self, update_id: int) -> bool:
        """Whether the callback query of update `update_id` was answered."""
        with self._lock:
            return self._queries[self._made[update_id]["callback_query"]["id"]]

    def customer_turn(
        self, chat_id: int, text: str, language_code: str | None = "zh", timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Say `text`; what the bot sent the chat until it took the update."""
        return self._turn(chat_id, lambda: self.customer_says(chat_id, text, language_code),
                          timeout)  # fmt: skip

    def customer_presses(
        self, chat_id: int, message: dict[str, Any], title: str, timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Press the button `title` under `message`; what the bot sent the chat until it
        took the update."""
        data = next(b["callback_data"] for b in buttons(message) if b["text"] == title)
        return self._turn(chat_id, lambda: self.press_button(chat_id, message, data), timeout)

    def replies_after(self, chat_id: int, count: int, timeout: float = 30) -> list[dict]:
        """The messages sent to `chat_id` after its first `count`, once some arrived and
        no more came for a moment (e.g. an agent's reply, which no update waits for)."""
        self.wait_until(lambda: len(self.sent(chat_id)) > count, timeout, "a reply")
        settled = -1
        while settled != len(self.sent(chat_id)):
            settled = len(self.sent(chat_id))
            time.sleep(SETTLE)
        return self.sent(chat_id)[count:]

    def _turn(self, chat_id: int, act: Callable[[], int], timeout: float) -> list[dict]:
        before = len(self.sent(chat_id))
        update_id = act()
        self.wait_until(lambda: self.taken(update_id), timeout, f"update {update_id} taken")
        return self.sent(chat_id)[before:]

    def failures_left(self) -> int:
        with self._lock:
            return sum(len(refusals) for refusals in self._failures.values())

    def wait_until(self, check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while not (result := check()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the Telegram double waited {timeout} s in vain: {what}")
            time.sleep(POLL_STEP)
        return result

    # ------------------------------------------------------------------ Telegram failing

    def fail(
        self,
        method: str,
        times: int = 1,
        code: int = 502,
        description: str = "Bad Gateway",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """The next `times` calls of `method` are refused so."""
        with self._lock:
            self._failures[method.lower()] += [Refusal(code, description, parameters)] * times

    def block(self, chat_id: int) -> None:
        """The customer blocks the bot."""
        with self._lock:
            self.blocked.add(chat_id)

    # ------------------------------------------------------------------ the Bot API

    def _build(self) -> FastAPI:
        methods = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
        }

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            task = asyncio.create_task(self._post_to_webhook())
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app = FastAPI(lifespan=lifespan)

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def call(token: str, method: str, request: Request) -> JSONResponse:
            if token != TOKEN:
                return refused(Refusal(401, "Unauthorized"))
            handler = methods.get(method.lower())  # Telegram's method names ignore case
            if handler is None:
                return refused(Refusal(404, "Not Found"))
            with self._lock:
                self.calls.append(method)
                failures = self._failures[method.lower()]
                failure = failures.pop(0) if failures else None
            try:
                if failure:
                    raise failure
                return await handler(await parameters(request), request)
            except Refusal as refusal:
                return refused(refusal)

        return app

    async def _get_me(self, _params: dict, _request: Request) -> JSONResponse:
        return ok(BOT_USER | {"can_join_groups": True, "can_read_all_group_messages": False,
                              "supports_inline_queries": False})  # fmt: skip

    async def _set_webhook(self, params: dict, _request: Request) -> JSONResponse:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, _request)
        if not url.startswith(("https://", "http://")):
            raise Refusal(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not SECRET.match(str(secret)):
            raise Refusal(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            if "allowed_updates" in params:
                self._allowed = list(params["allowed_updates"]) or None
            if flag(params, "drop_pending_updates"):
                self._pending.clear()
            self.webhook = {"url": url, "secret_token": secret}
        return ok(True, "Webhook was set")

    async def _delete_webhook(self, params: dict, _request: Request) -> JSONResponse:
        with self._lock:
            was = self.webhook
            self.webhook = None
            if flag(params, "drop_pending_updates"):
                self._pending.clear()
        return ok(True, "Webhook was deleted" if was else "Webhook is already deleted")

    async def _get_webhook_info(self, _params: dict, _request: Request) -> JSONResponse:
        with self._lock:
            info = {
                "url": self.webhook["url"] if self.webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
            if self.webhook:
                info["max_connections"] = 40
            if self._allowed:
                info["allowed_updates"] = self._allowed
            if self.last_webhook_error:
                info |= {"last_error_date": int(time.time()),
                         "last_error_message": self.last_webhook_error}  # fmt: skip
        return ok(info)

    def _confirm(self, offset: int) -> list[dict[str, Any]]:
        """Drop what `offset` confirms (under the lock); the updates dropped."""
        if offset < 0:
            keep = self._pending[offset:]
            gone = self._pending[: len(self._pending) - len(keep)]
        else:
            keep = [u for u in self._pending if u["update_id"] >= offset]
            gone = [u for u in self._pending if u["update_id"] < offset]
        self._pending = keep
        return gone

    def _record(self, confirmed: list[dict[str, Any]]) -> None:
        """`on_confirm` first (outside the lock), then `confirmed`: what waits for an update
        to be taken sees it after the hook ran."""
        for update in confirmed:
            if self.on_confirm:
                self.on_confirm(update)
            with self._lock:
                self.confirmed.append(update["update_id"])

    def _deliverable(self) -> list[dict[str, Any]]:
        """The pending updates of the allowed types (under the lock); others are dropped."""
        if self._allowed:
            self._pending = [u for u in self._pending if update_type(u) in self._allowed]
        return self._pending

    async def _get_updates(self, params: dict, request: Request) -> JSONResponse:
        offset = integer(params, "offset", 0)
        limit = min(max(integer(params, "limit", 100), 1), 100)
        timeout = max(integer(params, "timeout", 0), 0)
        with self._lock:
            if self.webhook:
                raise Refusal(409, WEBHOOK_ACTIVE)
            if "allowed_updates" in params:
                self._allowed = list(params["allowed_updates"]) or None
            self._polls += 1
            poll = self._polls
            confirmed = self._confirm(offset) if offset else []
        self._record(confirmed)
        deadline = time.monotonic() + timeout
        while True:
            if await request.is_disconnected():
                return ok([])  # the poller went away: nobody reads this answer
            with self._lock:
                if poll != self._polls:
                    self.conflicts += 1
                    raise Refusal(409, TERMINATED)
                found = self._deliverable()[:limit]
            if found or time.monotonic() >= deadline:
                return ok(found)
            await asyncio.sleep(POLL_STEP)

    async def _post_to_webhook(self) -> None:
        """Telegram's side of a webhook: the oldest pending update, until a 2xx answer."""
        async with httpx.AsyncClient(timeout=60) as client:
            while True:
                with self._lock:
                    hook = self.webhook
                    pending = self._deliverable() if hook else []
                    update = pending[0] if pending else None
                if hook is None or update is None:
                    await asyncio.sleep(POLL_STEP)
                    continue
                headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]}
                try:
                    answer = await client.post(
                        hook["url"], json=update, headers=headers if hook["secret_token"] else {}
                    )
                    status: int | None = answer.status_code
                except httpx.HTTPError as exc:
                    status, error = None, f"Connection failed: {type(exc).__name__}"
                else:
                    error = f"Wrong response from the webhook: {status} {answer.reason_phrase}"
                taken = status is not None and 200 <= status < 300
                with self._lock:
                    self.webhook_answers.append(status)
                    if taken and update in self._pending:
                        self._pending.remove(update)
                    elif not taken:
                        self.last_webhook_error = error
                if taken:
                    self._record([update])
                else:
                    await asyncio.sleep(WEBHOOK_RETRY)

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("chat_id") in (None, ""):
            raise Refusal(400, "Bad Request: chat_id is empty")
        chat_id = integer(params, "chat_id", 0)
        with self._lock:
            if chat_id in self.blocked:
                raise Refusal(403, "Forbidden: bot was blocked by the user")
            if chat_id not in self._chats:
                raise Refusal(400, "Bad Request: chat not found")
            return self._chats[chat_id]

    async def _send_message(self, params: dict, _request: Request) -> JSONResponse:
        chat = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise Refusal(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
            raise Refusal(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            check_keyboard(markup)
        with self._lock:
            message = {"message_id": next(self._message_ids[chat["id"]]), "from": BOT_USER,
                       "chat": chat, "date": int(time.time()), "text": text}  # fmt: skip
            if markup and markup.get("inline_keyboard"):
                message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
            self._sent.append(message)
        return ok(message)

    async def _answer_callback_query(self, params: dict, _request: Request) -> JSONResponse:
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            if self._queries.get(query_id, True):  # unknown, or answered already
                raise Refusal(400, TOO_OLD)
            self._queries[query_id] = True
        return ok(True)

    async def _send_chat_action(self, params: dict, _request: Request) -> JSONResponse:
        chat = self._chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise Refusal(400, "Bad Request: wrong parameter action in request")
        with self._lock:
            self.actions.append((chat["id"], action))
        return ok(True)
