"""The Telegram channel, with python-telegram-bot's `Bot` (the gateway does its own routing,
so no `Application`).

- **Long polling** (the default, no public URL needed): `bot/channels/telegram_polling.py`
  — an update is confirmed only once the router took it, one gateway polls at a time.
- **Webhook** (`TELEGRAM_WEBHOOK_URL`): Telegram posts each update to
  `/channels/telegram/webhook` with the secret token given to `setWebhook`; a request
  without it gets 403 and nothing is processed; the answer is 200 only once the update
  was taken (else 500, and Telegram sends it again).
- `update_id` is the channel message id (a redelivery is logged once), the chat id the
  customer's id, the user's `language_code` the language.
- Rasa's buttons become inline keyboards (`telegram_keyboards.py`); a press is answered
  (`answerCallbackQuery`) and routed with the button's title as the text. `/start` is a
  greeting; stickers, photos, voice… get a polite reply in words and are not routed.

Telegram unreachable never stops the gateway from starting: the background task keeps
trying. An update counts as taken once the router returned, whatever happens to the
replies: those Telegram did not take are handed to the deliverers, which try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import replace

from fastapi import APIRouter, HTTPException, Request, Response
from telegram import Bot, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from bot import texts
from bot.api_client import ApiRefused
from bot.channels.telegram_keyboards import Keyboards, title_of
from bot.channels.telegram_polling import UPDATES, Backoff, Poller
from bot.messages import Inbound, Reply, plain_text
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
START = "/start"  # Telegram's first message of every chat
GREETING = "/greet"
TEXT_LIMIT = 4000  # a message holds 4096 UTF-16 units; the rest goes in the next one


def language_of_user(code: str | None) -> str | None:
    """The user's IETF tag in Telegram (zh-hans, en-GB…) as zh or en; None otherwise."""
    prefix = (code or "")[:2].lower()
    return prefix if prefix in ("zh", "en") else None


def webhook_secret(settings: GatewaySettings) -> str:
    """`TELEGRAM_WEBHOOK_SECRET`, or one derived from the bot token: the same on every
    gateway, in the characters Telegram allows (A-Z a-z 0-9 _ -)."""
    token = settings.telegram_bot_token.encode()
    return (
        settings.telegram_webhook_secret
        or hmac.new(token, b"servicedesk telegram webhook", hashlib.sha256).hexdigest()
    )


def chunks(text: str) -> list[str]:
    return [text[i : i + TEXT_LIMIT] for i in range(0, len(text), TEXT_LIMIT)]


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: GatewaySettings, router: Router, state: State) -> None:
        self.settings = settings
        self.router = router
        # the library's DEBUG lines carry the bot token and each call's parameters (texts)
        library = logging.getLogger("telegram")
        library.setLevel(max(logging.INFO, library.getEffectiveLevel()))
        self._requests = (HTTPXRequest(), HTTPXRequest(connection_pool_size=1))
        self.bot = Bot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.keyboards = Keyboards(state)
        self.secret = webhook_secret(settings)
        self.routes = APIRouter()
        self.poller: Poller | None = None
        if settings.telegram_webhook_url:
            self.routes.add_api_route(
                WEBHOOK_PATH, self.receive_webhook, methods=["POST"], include_in_schema=False
            )
        else:
            self.poller = Poller(self.bot, state, self.handle, settings.telegram_poll_timeout)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        work = self.poller.run() if self.poller else self._set_webhook()
        self._task = asyncio.create_task(work, name="telegram")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.poller is not None:
            with contextlib.suppress(Exception):  # the state unreachable: the lease expires
                await self.poller.release()
        await asyncio.gather(*(request.shutdown() for request in self._requests))

    async def _set_webhook(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.bot.set_webhook(
                    self.settings.telegram_webhook_url,
                    secret_token=self.secret,
                    allowed_updates=UPDATES,
                )
                log.info("Telegram webhook set")
                return
            except TelegramError as exc:
                await backoff.wait(f"setWebhook: {exc.message}")

    # ------------------------------------------------------------------------- sending

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Each reply as plain text, its buttons under the last part; raises if Telegram
        refuses (the deliverer tries again)."""
        for reply in replies:
            if not reply.text and not reply.buttons:
                continue
            parts = chunks(plain_text(reply.text) or "…")
            for part in parts[:-1]:
                await self.bot.send_message(int(external_id), part)
            markup = await self.keyboards.markup(reply.buttons)
            await self.bot.send_message(int(external_id), parts[-1], reply_markup=markup)

    async def _reply(self, update: Update, external_id: str, replies: Sequence[Reply]) -> None:
        try:
            await self.send(external_id, replies)
        except TelegramError as exc:
            log.warning("replies to Telegram update %s not sent: %s", update.update_id,
                        exc.message)  # fmt: skip

    async def _typing(self, external_id: str) -> None:
        with contextlib.suppress(TelegramError):
            await self.bot.send_chat_action(int(external_id), ChatAction.TYPING)

    # ------------------------------------------------------------------------- receiving

    async def handle(self, update: Update) -> None:
        """One update: routed, and the replies sent. Returns once the update is taken
        (logged in the API, spooled, or not for the hotline); raises if it was not."""
        inbound = await self._inbound(update)
        if inbound is None:
            return
        try:
            delivery, _ = await asyncio.gather(
                self.router.receive(inbound), self._typing(inbound.external_id)
            )
        except ApiRefused as exc:  # can never be taken: not retried
            log.error("Telegram update %s refused by the API: %s", update.update_id, exc.status)
            return
        for index, reply in enumerate(delivery.replies):
            try:
                await self.send(inbound.external_id, [reply])
            except TelegramError as exc:  # e.g. Telegram down: the deliverers try again
                log.warning("replies to Telegram update %s not sent: %s", update.update_id,
                            exc.message)  # fmt: skip
                await self.router.not_sent(replace(delivery, replies=delivery.replies[index:]))
                return

    async def _inbound(self, update: Update) -> Inbound | None:
        """What the update says for the router; None for nothing to route."""
        if update.callback_query is not None:
            return await self._pressed(update)
        message = update.message
        if message is None:
            return None  # edits, channel posts…: not for the hotline
        external_id = str(message.chat.id)
        language = language_of_user(message.from_user.language_code if message.from_user else None)
        if message.text is None:
            await self._reply(update, external_id, [texts.reply("unsupported", language)])
            return None
        command = (message.text.split() or [""])[0].split("@")[0]  # "/start@bot deep-link"
        payload = GREETING if command == START else None
        return Inbound(self.name, external_id, message.text, str(update.update_id), payload,
                       language)  # fmt: skip

    async def _pressed(self, update: Update) -> Inbound | None:
        query = update.callback_query
        with contextlib.suppress(TelegramError):  # too old (a redelivery): it stopped anyway
            await query.answer()  # the spinner on the button stops
        if query.message is None or not query.data:
            return None
        payload = await self.keyboards.payload_of(query.data)
        title = title_of(query.message, query.data) or payload
        if title is None:
            return None  # neither the keyboard nor its key is known any more
        # an expired key: the title alone, which the assistant reads as typed words
        return Inbound(self.name, str(query.message.chat.id), title, str(update.update_id),
                       payload, language_of_user(query.from_user.language_code))  # fmt: skip

    async def receive_webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(given, self.secret.encode()):
            raise HTTPException(403, "wrong or missing secret token")
        try:
            data = await request.json()
            valid = isinstance(data, dict) and isinstance(data.get("update_id"), int)
            update = Update.de_json(data, self.bot) if valid else None
        except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, or not an Update
            update = None
        if update is None:
            raise HTTPException(400, "not a Telegram update")
        try:
            await self.handle(update)
        except Exception:
            log.exception("Telegram update %s not taken; Telegram sends it again",
                          update.update_id)  # fmt: skip
            return Response(status_code=500)
        return Response(status_code=200)
