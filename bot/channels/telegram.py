"""The Telegram channel, with python-telegram-bot's `Bot` (the gateway does its own routing,
so no `Application`).

- **Long polling** (the default, no public URL needed): `getUpdates` in a background
  task; the offset moves past an update only once the router has taken it (logged in
  the API or spooled), so a crash never loses one and a redelivered update is logged
  once (its `update_id` is the channel message id). With several gateways only the one
  holding the poller lease in the shared state polls.
- **Webhook** (`TELEGRAM_WEBHOOK_URL`): Telegram posts to `/channels/telegram/webhook`
  with the secret token set by `setWebhook`; a request without it gets 403 and nothing
  is processed; the answer is 200 only once the update was taken.
- Rasa's buttons become inline keyboards; a payload longer than Telegram's 64-byte
  `callback_data` is kept in the state under a short key. A button press is answered
  (`answerCallbackQuery`) and routed with the button's title as the text.

Telegram being unreachable never stops the gateway from starting: the background task
keeps trying.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import texts
from bot.api_client import ApiRefused
from bot.messages import Button, Inbound, Reply, plain_text
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
CALLBACK_TTL = 30 * 24 * 3600  # seconds a long button payload is kept
POLLER_LEASE = "tg:poller"
LEASE_SECONDS = 60
RETRY_SECONDS = (1, 2, 5, 10, 30)
UPDATES = ["message", "callback_query"]


def language_of_user(code: str | None) -> str | None:
    if not code:
        return None
    return (
        "zh" if code.lower().startswith("zh") else "en" if code.lower().startswith("en") else None
    )


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: GatewaySettings, router: Router, state: State) -> None:
        self.settings = settings
        self.router = router
        self.state = state
        self.bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        self.webhook = bool(settings.telegram_webhook_url)
        self.secret = (
            settings.telegram_webhook_secret
            or hmac.new(
                settings.telegram_bot_token.encode(), b"webhook", hashlib.sha256
            ).hexdigest()
        )  # the same on every gateway
        self._holder = secrets.token_hex(8)  # this gateway, for the poller lease
        self._task: asyncio.Task | None = None
        self.routes = APIRouter()
        if self.webhook:
            self.routes.add_api_route(
                "/channels/telegram/webhook", self.receive_webhook, methods=["POST"],
                include_in_schema=False,
            )  # fmt: skip

    async def start(self) -> None:
        work = self._set_webhook() if self.webhook else self._poll()
        self._task = asyncio.create_task(work, name="telegram")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if not self.webhook and await self.state.get(POLLER_LEASE) == self._holder:
            await self.state.delete(POLLER_LEASE)  # another gateway may poll at once
        await self.bot.shutdown()

    # --------------------------------------------------------------------- sending

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        for reply in replies:
            await self.bot.send_message(
                chat_id=int(external_id),
                text=plain_text(reply.text) or "…",
                reply_markup=await self._keyboard(reply.buttons),
            )

    async def _keyboard(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        rows = [
            [InlineKeyboardButton(b.title, callback_data=await self._callback_data(b.payload))]
            for b in buttons
        ]
        return InlineKeyboardMarkup(rows)

    async def _callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= CALLBACK_LIMIT:
            return payload
        key = "k:" + hashlib.sha256(payload.encode()).hexdigest()[:24]
        await self.state.put(f"tg:cb:{key}", payload, ttl=CALLBACK_TTL)
        return key

    async def _payload(self, data: str) -> str | None:
        if data.startswith("k:"):
            return await self.state.get(f"tg:cb:{data}")
        return data

    # --------------------------------------------------------------------- receiving

    async def handle(self, update: Update) -> None:
        """One update: to the router, the replies back to the chat. Once the router has
        taken it, the update counts as received whatever happens to the replies (they
        are in the conversation log)."""
        inbound = await self._inbound(update)
        if inbound is None:
            return
        try:
            delivery = await self.router.receive(inbound)
        except ApiRefused as exc:  # can never be taken (e.g. too long): not retried
            log.warning("Telegram update %s refused: %s", update.update_id, exc)
            return
        try:
            await self.send(inbound.external_id, delivery.replies)
        except TelegramError as exc:
            log.warning("Telegram replies to update %s not sent: %s", update.update_id, exc)

    async def _inbound(self, update: Update) -> Inbound | None:
        query, message = update.callback_query, update.message
        if query is not None:
            await self.bot.answer_callback_query(query.id)
            chat = query.message.chat if query.message else None
            if chat is None or not query.data:
                return None
            payload = await self._payload(query.data)
            markup = getattr(query.message, "reply_markup", None)  # None: inaccessible now
            rows = markup.inline_keyboard if markup else ()
            title = next(
                (b.text for row in rows for b in row if b.callback_data == query.data), payload
            )
            language = language_of_user(query.from_user.language_code)
            return Inbound(self.name, str(chat.id), title, str(update.update_id), payload,
                           language)  # fmt: skip
        if message is None:
            return None  # edits, channel posts…: not for the hotline
        language = language_of_user(message.from_user.language_code if message.from_user else None)
        if not message.text:
            reply = texts.reply("unsupported", language)
            await self.send(str(message.chat.id), [reply])
            return None
        payload = "/greet" if message.text.split()[0] == "/start" else None
        return Inbound(self.name, str(message.chat.id), message.text, str(update.update_id),
                       payload, language)  # fmt: skip

    async def receive_webhook(self, request: Request) -> dict[str, Any]:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise HTTPException(403, "wrong or missing secret token")
        try:
            data = await request.json()
            update = Update.de_json(data, self.bot)
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPException(400, f"not a Telegram update: {exc}") from None
        if update is None:
            raise HTTPException(400, "not a Telegram update")
        await self.handle(update)
        return {"ok": True}

    # --------------------------------------------------------------------- background

    async def _retrying(self, attempt: int, exc: Exception) -> None:
        delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
        log.warning("Telegram: %s; again in %s s", exc, delay)
        await asyncio.sleep(delay)

    async def _set_webhook(self) -> None:
        for attempt in itertools.count():
            try:
                await self.bot.initialize()
                await self.bot.set_webhook(
                    self.settings.telegram_webhook_url, secret_token=self.secret,
                    allowed_updates=UPDATES,
                )  # fmt: skip
                log.info("Telegram webhook set")
                return
            except TelegramError as exc:
                await self._retrying(attempt, exc)

    async def _holds_lease(self) -> bool:
        if await self.state.put_new(POLLER_LEASE, self._holder, LEASE_SECONDS):
            return True
        if await self.state.get(POLLER_LEASE) == self._holder:
            await self.state.put(POLLER_LEASE, self._holder, LEASE_SECONDS)  # renew
            return True
        return False

    async def _poll(self) -> None:
        offset: int | None = None
        failures = 0
        ready = False
        while True:
            try:
                if not await self._holds_lease():
                    await asyncio.sleep(LEASE_SECONDS / 3)  # another gateway polls
                    continue
                if not ready:
                    await self.bot.initialize()
                    await self.bot.delete_webhook()
                    ready = True
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.settings.telegram_poll_timeout,
                    allowed_updates=UPDATES,
                )  # fmt: skip
                await self._take(updates)
                if updates:
                    offset = updates[-1].update_id + 1  # confirmed with the next call
                failures = 0
            except TelegramError as exc:
                await self._retrying(failures, exc)
                failures += 1

    async def _take(self, updates: Sequence[Update]) -> None:
        """A batch: each chat's updates in order, the chats side by side."""
        by_chat: dict[int | None, list[Update]] = defaultdict(list)
        for update in updates:
            by_chat[update.effective_chat.id if update.effective_chat else None].append(update)

        async def in_order(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self.handle(update)

        await asyncio.gather(*(in_order(batch) for batch in by_chat.values()))
