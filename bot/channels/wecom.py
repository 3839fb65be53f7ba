"""The WeCom (企业微信) channel: 微信客服 (kf) for WeChat customers, and the self-built app
for staff reporting a fault. Both call back `/channels/wecom/callback`, configured with
the same Token and EncodingAESKey (`WECOM_TOKEN`, `WECOM_ENCODING_AES_KEY`).

- `GET` verifies the URL: the decrypted `echostr` is the answer.
- `POST`: the signature is checked and the body decrypted (`wecom_crypto.py`); a forged
  one gets 403 and nothing is processed, an undecryptable or malformed one 400.
- **kf**: the callback only says "new messages" (with a token valid 10 minutes). It is
  answered at once; a background task pulls them with `kf/sync_msg` from the cursor kept
  in the shared state, page by page while `has_more`, routes each customer message (its
  `msgid` is the channel message id, so a message pulled twice is logged once) and stores
  the next cursor only once the page's messages were taken: nothing is lost on a crash,
  and a starting gateway pulls what came while it was down. One gateway pulls an account
  at a time (a lease); a callback meanwhile marks it dirty and the puller goes round again.
  Replies go out with `kf/send_msg`, as few messages as they fit in (WeCom allows five
  per customer message); Rasa's buttons become a `msgmenu`, whose clicks come back as
  text with the item's `menu_id`, mapped back to the button's payload.
- **entering a session** (`enter_session` with a `welcome_code`): the assistant's greeting
  (`/greet` through the router) goes out with `kf/send_msg_on_event`, the one message the
  code allows — `kf/send_msg` is refused until the customer has written. Without a code
  (a welcome configured in WeCom's admin) the event is skipped; so are the other events.
- **app**: the message is in the callback. It is routed at once and the answer waits for
  the turn up to `APP_ANSWER_SECONDS`: the message is then logged before WeCom hears 200
  (without an answer in 5 s WeCom retries, and a retry is recognised by its MsgId), and a
  slow turn finishes in the background. Replies go out with `message/send`; buttons are
  numbered lines, and a reply with the number or the title is the button's payload. App
  users are `app:<userid>` on the channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException, ElementTree
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from bot import texts
from bot.api_client import ApiRefused, ApiUnavailable
from bot.channels.wecom_client import WecomClient, WecomError
from bot.channels.wecom_crypto import CallbackRefused, ForgedSignature, WecomCrypto
from bot.channels.wecom_render import (
    MENU_ITEMS,
    TEXT_BYTES,
    app_text,
    kf_messages,
    menu_id,
    pieces,
)
from bot.messages import Delivery, Inbound, Reply
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

CALLBACK = "/channels/wecom/callback"
APP_PREFIX = "app:"
GREETING = "/greet"
CUSTOMER = 3  # `origin` of a message the WeChat customer sent
ACCOUNTS = "wecom:accounts"  # the kf accounts seen, pulled again on start
MENU_TTL = 30 * 24 * 3600
KF_OF_TTL = 90 * 24 * 3600  # how long the kf account of a customer is remembered
ANSWERED_TTL = 4 * 24 * 3600  # sync_msg returns three days
CALLBACK_TOKEN_SECONDS = 600  # a callback's token is valid 10 minutes
SYNC_LEASE_SECONDS = 300  # renewed with every page
APP_ANSWER_SECONDS = 4.0  # WeCom waits 5 s for the answer
STOP_GRACE_SECONDS = 2.0  # on top of a Rasa turn, for the work in flight on stop
MAX_TEXT = 4096  # the API's limit of a logged message


def parse_xml(body: str | bytes) -> dict[str, str]:
    """The child elements of a WeCom XML message (entities and DTDs refused)."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise CallbackRefused("not WeCom's XML") from exc
    return {child.tag: (child.text or "") for child in root}


# ------------------------------------------------------------------------- the channel


@dataclass(frozen=True)
class Pulled:
    """A customer's message (text None: not text), or a greeting with its event's code."""

    inbound: Inbound
    welcome_code: str | None = None


class WecomChannel:
    name = "wecom"

    def __init__(self, settings: GatewaySettings, router: Router, state: State) -> None:
        self.settings = settings
        self.router = router
        self.state = state
        self.crypto = WecomCrypto(
            settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id
        )
        self.client = WecomClient(settings, state)
        self._tasks: set[asyncio.Task] = set()
        self.routes = APIRouter()
        for method, endpoint in (("GET", self.verify_url), ("POST", self.callback)):
            self.routes.add_api_route(
                CALLBACK,
                endpoint,
                methods=[method],
                response_class=PlainTextResponse,
                include_in_schema=False,
            )

    async def start(self) -> None:
        """Pull what came while no gateway ran (WeCom's callbacks then were lost)."""
        for open_kfid in json.loads(await self.state.get(ACCOUNTS) or "[]"):
            self._in_background(self.sync(open_kfid, None))

    async def stop(self) -> None:
        if self._tasks:  # let the turns in flight finish: their replies are not pulled again
            await asyncio.wait(self._tasks, timeout=self.settings.rasa_timeout + STOP_GRACE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("WeCom background work failed", exc_info=exc)

    # --------------------------------------------------------------------- callbacks

    async def verify_url(
        self,
        msg_signature: str = Query(...),
        timestamp: str = Query(...),
        nonce: str = Query(...),
        echostr: str = Query(...),
    ) -> str:
        try:
            return self.crypto.open(msg_signature, timestamp, nonce, echostr)
        except CallbackRefused as exc:
            raise HTTPException(_status(exc), str(exc)) from None

    async def callback(
        self,
        request: Request,
        msg_signature: str = Query(...),
        timestamp: str = Query(...),
        nonce: str = Query(...),
    ) -> str:
        try:
            encrypted = parse_xml(await request.body()).get("Encrypt")
            if not encrypted:
                raise CallbackRefused("no Encrypt element")
            message = parse_xml(self.crypto.open(msg_signature, timestamp, nonce, encrypted))
        except CallbackRefused as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        if message.get("MsgType") == "event":
            if message.get("Event") == "kf_msg_or_event" and message.get("OpenKfId"):
                self._in_background(self.sync(message["OpenKfId"], message.get("Token")))
        elif message.get("AgentID"):
            await self._app_message(message)
        return "success"

    async def _app_message(self, message: dict[str, str]) -> None:
        if message["AgentID"] != self.settings.wecom_agent_id:
            log.info("WeCom callback of app %s skipped: not ours", message["AgentID"])
            return
        userid, msgid = message.get("FromUserName"), message.get("MsgId")
        if not userid or not msgid:
            raise HTTPException(400, "an app message needs FromUserName and MsgId")
        external_id = APP_PREFIX + userid
        text = message.get("Content", "")[:MAX_TEXT] if message.get("MsgType") == "text" else None
        payload = await self._choice(external_id, text) if text else None
        inbound = Inbound(self.name, external_id, text, f"app:{msgid}", payload)
        await asyncio.wait(
            {self._in_background(self._handle(Pulled(inbound)))}, timeout=APP_ANSWER_SECONDS
        )

    # --------------------------------------------------------------------- kf: pulling

    async def sync(self, open_kfid: str, token: str | None) -> None:
        """Pull and route everything new for the kf account (one puller at a time)."""
        dirty, lease = f"wecom:dirty:{open_kfid}", f"wecom:sync:{open_kfid}"
        await self.state.put(dirty, token or "", ttl=CALLBACK_TOKEN_SECONDS)
        await self._remember_account(open_kfid)
        while await self.state.get(dirty) is not None:  # marked again after our last round
            if not await self.state.put_new(lease, "1", SYNC_LEASE_SECONDS):
                return  # another puller holds the account and will see the mark
            try:
                while (marked := await self.state.get(dirty)) is not None:
                    await self.state.delete(dirty)
                    await self._pull(open_kfid, marked or None, lease)
            except WecomError as exc:
                log.warning("WeCom sync of %s failed: %s", open_kfid, exc)
                return
            finally:
                await self.state.delete(lease)

    async def _pull(self, open_kfid: str, token: str | None, lease: str) -> None:
        key = f"wecom:cursor:{open_kfid}"
        more = True
        while more:
            cursor = await self.state.get(key)
            messages, next_cursor, more = await self.client.sync_messages(open_kfid, cursor, token)
            await self._take(messages)
            if next_cursor:
                await self.state.put(key, next_cursor)  # only now: the page was taken
            await self.state.put(lease, "1", ttl=SYNC_LEASE_SECONDS)

    async def _take(self, messages: list[dict[str, Any]]) -> None:
        """A page: each customer's messages in order, the customers side by side."""
        by_customer: dict[str, list[Pulled]] = defaultdict(list)
        for item in messages:
            if (pulled := await self._pulled(item)) is not None:
                by_customer[pulled.inbound.external_id].append(pulled)

        async def in_order(batch: list[Pulled]) -> None:
            for pulled in batch:
                await self._handle(pulled)

        done = await asyncio.gather(*map(in_order, by_customer.values()), return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException):
                raise result  # the cursor stays: the page is pulled again

    async def _pulled(self, item: dict[str, Any]) -> Pulled | None:
        """The customer's messages and menu clicks, and entering with a welcome code;
        None for the rest (what our agents or the system sent, other events)."""
        kind, msgid = item.get("msgtype"), item.get("msgid")
        if not msgid:
            return None
        if kind == "event":
            event = item.get("event") or {}
            user, code = event.get("external_userid"), event.get("welcome_code")
            if event.get("event_type") != "enter_session" or not user or not code:
                return None
            await self._remember(user, event.get("open_kfid"))
            return Pulled(Inbound(self.name, user, None, msgid, GREETING), code)
        user = item.get("external_userid")
        if item.get("origin") != CUSTOMER or not user:
            return None
        await self._remember(user, item.get("open_kfid"))
        if kind != "text":
            return Pulled(Inbound(self.name, user, None, msgid))
        text = item.get("text") or {}
        payload = None
        if text.get("menu_id"):
            payload = await self.state.get(f"wecom:menu:{text['menu_id']}")
        content = (text.get("content") or "")[:MAX_TEXT]
        return Pulled(Inbound(self.name, user, content, msgid, payload))

    async def _remember(self, user: str, open_kfid: str | None) -> None:
        if open_kfid:
            await self.state.put(f"wecom:kf_of:{user}", open_kfid, ttl=KF_OF_TTL)

    async def _remember_account(self, open_kfid: str) -> None:
        accounts = json.loads(await self.state.get(ACCOUNTS) or "[]")
        if open_kfid not in accounts:
            await self.state.put(ACCOUNTS, json.dumps([*accounts, open_kfid]))

    # --------------------------------------------------------------------- one message

    async def _handle(self, pulled: Pulled) -> None:
        """Route one message (or say we read text only) and send the replies."""
        inbound = pulled.inbound
        if inbound.text is None and inbound.payload is None:
            delivery = Delivery(await self._unsupported(inbound))
        else:
            delivery = await self._route(inbound)
        try:
            if pulled.welcome_code:
                await self._welcome(pulled.welcome_code, delivery.replies)
            else:
                await self.send(inbound.external_id, delivery.replies)
        except WecomError as exc:
            log.warning("WeCom replies to %s not sent: %s", inbound.channel_message_id, exc)
            await self.router.not_sent(delivery)  # the deliverers try again

    async def _route(self, inbound: Inbound) -> Delivery:
        try:
            return await self.router.receive(inbound)
        except ApiRefused as exc:  # can never be taken: not retried
            log.warning(
                "WeCom message %s refused by the API (%s)", inbound.channel_message_id, exc.status
            )
            return Delivery()

    async def _unsupported(self, inbound: Inbound) -> list[Reply]:
        """We read text only: said once per message, in the conversation's language."""
        answered = f"wecom:answered:{inbound.external_id}:{inbound.channel_message_id}"
        if not await self.state.put_new(answered, "1", ANSWERED_TTL):
            return []
        try:
            conversation = await self.router.api.find_conversation(self.name, inbound.external_id)
        except (ApiUnavailable, ApiRefused):
            conversation = None
        return [texts.reply("unsupported", (conversation or {}).get("language"))]

    async def _choice(self, external_id: str, text: str) -> str | None:
        """The payload of the app button whose number or title `text` is, if any."""
        stored = await self.state.get(f"wecom:choices:{external_id}")
        answer = text.strip().casefold()
        for number, (title, payload) in enumerate(json.loads(stored or "[]"), 1):
            if answer in (str(number), title.casefold()):
                return payload
        return None

    # --------------------------------------------------------------------- sending

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        if not replies:
            return
        if external_id.startswith(APP_PREFIX):
            await self._send_app(external_id, replies)
            return
        open_kfid = await self.state.get(f"wecom:kf_of:{external_id}")
        if open_kfid is None:
            raise LookupError("no kf account known for this WeCom customer")
        await self._keep_menus(replies)
        for message in kf_messages(replies):
            await self.client.send_kf(open_kfid, external_id, message)

    async def _welcome(self, code: str, replies: Sequence[Reply]) -> None:
        messages = kf_messages(replies)
        if not messages:
            return
        await self._keep_menus(replies)
        await self.client.send_kf_on_event(code, messages[0])
        if len(messages) > 1:
            log.info(
                "WeCom welcome: %d more messages not sent (one per event code)", len(messages) - 1
            )

    async def _keep_menus(self, replies: Sequence[Reply]) -> None:
        for reply in replies:
            for button in reply.buttons[:MENU_ITEMS]:
                await self.state.put(
                    f"wecom:menu:{menu_id(button.payload)}", button.payload, ttl=MENU_TTL
                )

    async def _send_app(self, external_id: str, replies: Sequence[Reply]) -> None:
        choices = [[b.title, b.payload] for reply in replies for b in reply.buttons]
        key = f"wecom:choices:{external_id}"
        if choices:
            await self.state.put(key, json.dumps(choices, ensure_ascii=False), ttl=MENU_TTL)
        else:
            await self.state.delete(key)  # a number now means just the number
        for piece in pieces(app_text(replies), TEXT_BYTES):
            await self.client.send_app(external_id.removeprefix(APP_PREFIX), piece)


def _status(refused: CallbackRefused) -> int:
    return 403 if isinstance(refused, ForgedSignature) else 400
