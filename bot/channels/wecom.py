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
  the next cursor only once the page's messages were taken — nothing is lost on a crash.
  Replies go out with `kf/send_msg`; Rasa's buttons become a `msgmenu`, whose clicks come
  back as text with the item's `menu_id`, mapped back to the button's payload.
- **app**: the message is in the callback; it is routed before the answer (WeCom retries
  after 5 s without one, and a retry is recognised by its MsgId) and the replies go out
  with `message/send`. App users are `app:<userid>` on the channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
from defusedxml import ElementTree
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from bot import texts
from bot.api_client import ApiRefused
from bot.channels.wecom_client import WecomClient, WecomError
from bot.channels.wecom_crypto import CallbackRefused, WecomCrypto
from bot.messages import Inbound, Reply, plain_text
from bot.routing import Router
from bot.settings import GatewaySettings
from bot.state import State

log = logging.getLogger(__name__)

APP_PREFIX = "app:"
CUSTOMER = 3  # `origin` of a message the WeChat customer sent
MENU_TTL = 30 * 24 * 3600
KF_OF_TTL = 90 * 24 * 3600  # how long the kf account of a customer is remembered
SYNC_LEASE_SECONDS = 60
TEXT_LIMIT = 2000  # characters; WeCom takes 2048 bytes of text per message


def parse_xml(body: str | bytes) -> dict[str, str]:
    """The child elements of a WeCom XML message (entities and DTDs refused)."""
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # defusedxml's and expat's errors alike
        raise CallbackRefused("not WeCom's XML") from exc
    return {child.tag: (child.text or "") for child in root}


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
        self._syncing: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task] = set()
        self.routes = APIRouter()
        self.routes.add_api_route(
            "/channels/wecom/callback",
            self.verify_url,
            methods=["GET"],
            response_class=PlainTextResponse,
            include_in_schema=False,
        )
        self.routes.add_api_route(
            "/channels/wecom/callback",
            self.callback,
            methods=["POST"],
            response_class=PlainTextResponse,
            include_in_schema=False,
        )

    async def start(self) -> None:
        pass  # WeCom calls us

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()

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
            raise HTTPException(403 if "signature" in str(exc) else 400, str(exc)) from None

    async def callback(
        self,
        request: Request,
        msg_signature: str = Query(...),
        timestamp: str = Query(...),
        nonce: str = Query(...),
    ) -> str:
        try:
            encrypted = parse_xml(await request.body()).get("Encrypt", "")
            message = parse_xml(self.crypto.open(msg_signature, timestamp, nonce, encrypted))
        except CallbackRefused as exc:
            raise HTTPException(403 if "signature" in str(exc) else 400, str(exc)) from None
        if message.get("Event") == "kf_msg_or_event" and message.get("OpenKfId"):
            self._in_background(self.sync(message["OpenKfId"], message.get("Token")))
        elif message.get("MsgType") == "text" and message.get("AgentID"):
            await self._app_message(message)
        return "success"

    def _in_background(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _app_message(self, message: dict[str, str]) -> None:
        userid = message.get("FromUserName", "")
        if not userid or not message.get("MsgId"):
            raise HTTPException(400, "an app message needs FromUserName and MsgId")
        inbound = Inbound(self.name, APP_PREFIX + userid, message.get("Content", ""),
                          f"app:{message['MsgId']}")  # fmt: skip
        await self._route(inbound)

    # --------------------------------------------------------------------- kf: pulling

    async def sync(self, open_kfid: str, token: str | None) -> None:
        """Pull and route everything new for the kf account (one puller per account)."""
        dirty = f"wecom:dirty:{open_kfid}"
        await self.state.put(dirty, "1", ttl=SYNC_LEASE_SECONDS)
        async with self._syncing[open_kfid]:
            lease = f"wecom:sync:{open_kfid}"
            if not await self.state.put_new(lease, "1", SYNC_LEASE_SECONDS):
                return  # another gateway pulls now and will see the dirty mark
            try:
                while await self.state.get(dirty):
                    await self.state.delete(dirty)
                    await self._pull(open_kfid, token)
            except (WecomError, httpx.HTTPError) as exc:
                log.warning("WeCom sync of %s failed: %s", open_kfid, exc)
            finally:
                await self.state.delete(lease)

    async def _pull(self, open_kfid: str, token: str | None) -> None:
        key = f"wecom:cursor:{open_kfid}"
        more = True
        while more:
            cursor = await self.state.get(key)
            messages, next_cursor, more = await self.client.sync_messages(open_kfid, cursor, token)
            await self._take(messages)
            if next_cursor:
                await self.state.put(key, next_cursor)  # only now: the page was taken

    async def _take(self, messages: list[dict[str, Any]]) -> None:
        """A page: each customer's messages in order, the customers side by side."""
        by_customer: dict[str, list[Inbound]] = defaultdict(list)
        for item in messages:
            inbound = await self._inbound(item)
            if inbound is not None:
                by_customer[inbound.external_id].append(inbound)

        async def in_order(inbounds: list[Inbound]) -> None:
            for inbound in inbounds:
                await self._route(inbound)

        await asyncio.gather(*(in_order(batch) for batch in by_customer.values()))

    async def _inbound(self, item: dict[str, Any]) -> Inbound | None:
        """A pulled message as an Inbound: the customer's texts and menu clicks, and the
        customer entering the session (a greeting); None for the rest."""
        kind, msgid = item.get("msgtype"), item.get("msgid")
        if kind == "event":
            event = item.get("event") or {}
            if event.get("event_type") != "enter_session" or not msgid:
                return None
            user, kf = event.get("external_userid"), event.get("open_kfid")
            await self._remember(user, kf)
            return Inbound(self.name, user, None, msgid, "/greet")
        if item.get("origin") != CUSTOMER or not msgid:
            return None  # what our agents or the system sent
        user = item["external_userid"]
        await self._remember(user, item.get("open_kfid"))
        if kind != "text":
            await self.send(user, [texts.reply("unsupported", None)])
            return None
        text = item.get("text") or {}
        payload = None
        if text.get("menu_id"):
            payload = await self.state.get(f"wecom:menu:{text['menu_id']}")
        return Inbound(self.name, user, text.get("content", ""), msgid, payload)

    async def _remember(self, user: str | None, open_kfid: str | None) -> None:
        if user and open_kfid:
            await self.state.put(f"wecom:kf_of:{user}", open_kfid, ttl=KF_OF_TTL)

    async def _route(self, inbound: Inbound) -> None:
        try:
            delivery = await self.router.receive(inbound)
        except ApiRefused as exc:  # can never be taken: not retried
            log.warning("WeCom message %s refused: %s", inbound.channel_message_id, exc)
            return
        try:
            await self.send(inbound.external_id, delivery.replies)
        except (WecomError, httpx.HTTPError) as exc:
            log.warning("WeCom replies to %s not sent: %s", inbound.channel_message_id, exc)

    # --------------------------------------------------------------------- sending

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        for reply in replies:
            text = plain_text(reply.text)[:TEXT_LIMIT]
            if external_id.startswith(APP_PREFIX):
                await self.client.send_app(external_id.removeprefix(APP_PREFIX), text or "…")
                continue
            open_kfid = await self.state.get(f"wecom:kf_of:{external_id}")
            if open_kfid is None:
                raise WecomError(-1, "no kf account known for this customer")
            await self.client.send_kf(open_kfid, external_id, await self._message(reply, text))

    async def _message(self, reply: Reply, text: str) -> dict[str, Any]:
        if not reply.buttons:
            return {"msgtype": "text", "text": {"content": text or "…"}}
        items = []
        for button in reply.buttons:
            menu_id = "m" + hashlib.sha256(button.payload.encode()).hexdigest()[:24]
            await self.state.put(f"wecom:menu:{menu_id}", button.payload, ttl=MENU_TTL)
            items.append({"type": "click", "click": {"id": menu_id, "content": button.title}})
        return {"msgtype": "msgmenu", "msgmenu": {"head_content": text, "list": items}}
