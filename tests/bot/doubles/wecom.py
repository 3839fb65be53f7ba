"""A local double of WeCom's server API on 127.0.0.1, and WeCom's side of the callbacks.

Server API (answers as WeCom does: `{"errcode": 0, "errmsg": "ok", …}` or an error code):
- `GET /cgi-bin/gettoken?corpid&corpsecret` → an access token valid 7200 s (40013 wrong
  corp id, 40001 wrong secret); each secret (kf, app) gets its own tokens, and a token
  used on the other's API gets 48002;
- `POST /cgi-bin/kf/sync_msg?access_token` {cursor, token, limit, open_kfid} → a page of
  the account's messages after the cursor (`next_cursor`, `has_more`, `msg_list`); 95007
  for a callback token it did not issue or older than 10 minutes; `page_size` makes the
  pages short, as WeCom may;
- `POST /cgi-bin/kf/send_msg` {touser, open_kfid, msgtype text|msgmenu, …} → {msgid}:
  only within 48 hours of the customer's last message and five per message (95001 "send
  msg count limit" otherwise, as WeCom answers a send to a customer who has not written);
  text ≤ 2048 bytes, a menu's head ≤ 1024, ≤ 10 click items of ≤ 128 bytes (45002);
- `POST /cgi-bin/kf/send_msg_on_event` {code, msgtype text|msgmenu} → {msgid}: the code of
  an `enter_session` event, once, within 20 s (40029 otherwise: the kf docs name no code);
- `POST /cgi-bin/message/send` {touser, msgtype text, agentid, text} (the app's token;
  40056 for another agentid);
- 40014 for an unknown access token, 42001 for an expired one.

As WeCom, the tests make customers write (`customer_says`, `enter_session`): the message
is queued for `sync_msg` and the encrypted `kf_msg_or_event` callback is posted to the
gateway (`callback_url`); `app_user_says` posts an app message callback.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request

from bot.channels.wecom_crypto import WecomCrypto
from tests.serving import serve

CORP_ID = "ww0000000000test"
TOKEN = "callbackTokenOfTheDouble"
AES_KEY = base64.b64encode(b"the double's 32-byte AES key ...").decode().rstrip("=")
KF_SECRET = "kf-secret-of-the-double"
APP_SECRET = "app-secret-of-the-double"
AGENT_ID = "1000002"
OPEN_KFID = "wkTEST0000kf0001"
SEND_WINDOW = 48 * 3600  # kf/send_msg: within 48 hours of the customer's message …
SENDS_PER_MESSAGE = 5  # … and five messages per customer message
WELCOME_SECONDS = 20


class WecomApi:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.crypto = WecomCrypto(TOKEN, AES_KEY, CORP_ID)
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token → (kind, expires at)
        self.gettoken_calls = 0
        self.messages: list[dict[str, Any]] = []  # everything customers sent, in order
        self.callback_tokens: dict[str, float] = {}  # token → issued at
        self.allowance: dict[str, tuple[int, float]] = {}  # customer → (sends left, until)
        self.welcome_codes: dict[str, tuple[str, float]] = {}  # code → (customer, until)
        self.welcomed: list[dict[str, Any]] = []  # kf/send_msg_on_event bodies
        self.page_size = 1000
        self.sync_calls: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # kf/send_msg bodies
        self.app_sent: list[dict[str, Any]] = []  # message/send bodies
        self.callback_url = ""
        self.callback_answers: list[tuple[int, str]] = []
        self._ids = itertools.count(1)
        self.url = ""
        self.app = self._build()

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[WecomApi]:
        double = cls()
        with serve(double.app) as url:
            double.url = url
            yield double

    @property
    def env(self) -> dict[str, str]:
        return {
            "WECOM_CORP_ID": CORP_ID,
            "WECOM_TOKEN": TOKEN,
            "WECOM_ENCODING_AES_KEY": AES_KEY,
            "WECOM_KF_SECRET": KF_SECRET,
            "WECOM_AGENT_ID": AGENT_ID,
            "WECOM_APP_SECRET": APP_SECRET,
            "WECOM_API_BASE_URL": self.url,
        }

    # ------------------------------------------------------------------ playing WeCom

    def customer_says(self, user: str, text: str, *, menu_id: str | None = None) -> str:
        """A WeChat customer writes to the kf account; returns the msgid."""
        content: dict[str, Any] = {"content": text}
        if menu_id:
            content["menu_id"] = menu_id
        return self.customer_sends({"msgtype": "text", "text": content}, user)

    def customer_sends_image(self, user: str) -> str:
        return self.customer_sends({"msgtype": "image", "image": {"media_id": "MEDIA"}}, user)

    def customer_sends(self, message: dict[str, Any], user: str, notify: bool = True) -> str:
        """Any message of the customer (`origin` 3): it opens WeCom's window for replies."""
        with self._lock:
            self.allowance[user] = (SENDS_PER_MESSAGE, time.time() + SEND_WINDOW)
        return self._queue({"origin": 3, "external_userid": user, **message}, notify)

    def enter_session(self, user: str, *, welcome: bool = True) -> str:
        """The customer opens the chat; with a welcome code unless WeCom's admin sends one."""
        event = {"event_type": "enter_session", "open_kfid": OPEN_KFID,
                 "external_userid": user, "scene": ""}  # fmt: skip
        if welcome:
            code = "WELCOME" + secrets.token_hex(8)
            event["welcome_code"] = code
            with self._lock:
                self.welcome_codes[code] = (user, time.time() + WELCOME_SECONDS)
        return self._queue({"origin": 4, "msgtype": "event", "event": event})

    def _queue(self, message: dict[str, Any], notify: bool = True) -> str:
        msgid = f"msg{next(self._ids):08d}"
        with self._lock:
            self.messages.append(
                {"msgid": msgid, "open_kfid": OPEN_KFID, "send_time": int(time.time()),
                 **message}
            )  # fmt: skip
        if notify:
            self.notify()
        return msgid

    def notify(self) -> int:
        """The `kf_msg_or_event` callback, encrypted and signed as WeCom does it."""
        token = "ENC" + secrets.token_hex(16)
        self.callback_tokens[token] = time.time()
        event = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{OPEN_KFID}]]></OpenKfId></xml>"
        )
        return self.post_callback(event)

    def app_user_says(self, userid: str, text: str, msgid: str | None = None) -> int:
        """A member of staff writes to the self-built app: the callback carries the message."""
        return self.app_user_sends(
            userid,
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>",
            msgid,
        )

    def app_user_sends_image(self, userid: str) -> int:
        return self.app_user_sends(
            userid,
            "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://p]]></PicUrl>"
            "<MediaId><![CDATA[MEDIA]]></MediaId>",
        )

    def app_user_sends(self, userid: str, fields: str, msgid: str | None = None) -> int:
        message = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{userid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>{fields}"
            f"<MsgId>{msgid or next(self._ids)}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
        )
        return self.post_callback(message)

    def post_callback(self, plaintext: str, *, signature: str | None = None) -> int:
        encrypted = self.crypto.encrypt(plaintext)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {
            "msg_signature": signature or self.crypto.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        )
        answer = httpx.post(f"{self.callback_url}?{urlencode(query)}", content=body, timeout=60)
        self.callback_answers.append((answer.status_code, answer.text))
        return answer.status_code

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens = {t: (kind, 0.0) for t, (kind, _) in self.access_tokens.items()}

    def sent_to(self, user: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["touser"] == user]

    def texts_to(self, user: str) -> list[str]:
        """What `user` read: the texts and the menus' heads."""
        return [m["text"]["content"] if m["msgtype"] == "text" else m["msgmenu"]["head_content"]
                for m in self.sent_to(user)]  # fmt: skip

    def wait_for(self, check: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := check()):
            if time.monotonic() > deadline:
                raise AssertionError("the WeCom double waited in vain")
            time.sleep(0.05)
        return result

    def replies_after(self, user: str, count: int, timeout: float = 30) -> list[dict]:
        """The messages sent to `user` after its first `count`, once they stop coming."""
        self.wait_for(lambda: len(self.sent_to(user)) > count, timeout)
        settled = -1
        while settled != len(self.sent_to(user)):
            settled = len(self.sent_to(user))
            time.sleep(0.4)
        return self.sent_to(user)[count:]

    # ------------------------------------------------------------------ the server API

    def _token_error(self, token: str | None, kind: str) -> dict[str, Any] | None:
        found = self.access_tokens.get(token or "")
        if found is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if found[1] < time.time():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if found[0] != kind:
            return {"errcode": 48002, "errmsg": "api forbidden"}
        return None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/cgi-bin/gettoken")
        def gettoken(corpid: str = "", corpsecret: str = "") -> dict[str, Any]:
            self.gettoken_calls += 1
            if corpid != CORP_ID:
                return {"errcode": 40013, "errmsg": "invalid corpid"}
            kind = {KF_SECRET: "kf", APP_SECRET: "app"}.get(corpsecret)
            if kind is None:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            token = secrets.token_urlsafe(24)
            with self._lock:
                self.access_tokens[token] = (kind, time.time() + 7200)
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

        @app.post("/cgi-bin/kf/sync_msg")
        async def sync_msg(request: Request, access_token: str = "") -> dict[str, Any]:
            if error := self._token_error(access_token, "kf"):
                return error
            body = await request.json()
            self.sync_calls.append(body)
            issued = self.callback_tokens.get(body.get("token") or "", 0.0)
            if body.get("token") and issued < time.time() - 600:
                return {"errcode": 95007, "errmsg": "invalid msg token"}
            start = int(str(body.get("cursor") or "c0")[1:])
            limit = min(int(body.get("limit") or 1000), 1000, self.page_size)
            with self._lock:
                mine = [m for m in self.messages if m["open_kfid"] == body.get("open_kfid")]
            page = mine[start : start + limit]
            end = start + len(page)
            return {"errcode": 0, "errmsg": "ok", "next_cursor": f"c{end}",
                    "has_more": int(end < len(mine)), "msg_list": page}  # fmt: skip

        @app.post("/cgi-bin/kf/send_msg")
        async def send_msg(request: Request, access_token: str = "") -> dict[str, Any]:
            if error := self._token_error(access_token, "kf"):
                return error
            body = await request.json()
            if body.get("open_kfid") != OPEN_KFID or not body.get("touser"):
                return {"errcode": 95000, "errmsg": "invalid open_kfid or touser"}
            if error := _content_error(body):
                return error
            with self._lock:
                left, until = self.allowance.get(body["touser"], (0, 0.0))
                if left < 1 or until < time.time():
                    return {"errcode": 95001, "errmsg": "send msg count limit"}
                self.allowance[body["touser"]] = (left - 1, until)
                self.sent.append(body)
            return {"errcode": 0, "errmsg": "ok", "msgid": f"out{next(self._ids)}"}

        @app.post("/cgi-bin/kf/send_msg_on_event")
        async def send_msg_on_event(request: Request, access_token: str = "") -> dict[str, Any]:
            if error := self._token_error(access_token, "kf"):
                return error
            body = await request.json()
            if error := _content_error(body):
                return error
            with self._lock:
                user, until = self.welcome_codes.pop(body.get("code") or "", ("", 0.0))
                if until < time.time():
                    return {"errcode": 40029, "errmsg": "invalid code"}
                self.welcomed.append({**body, "touser": user})
            return {"errcode": 0, "errmsg": "ok", "msgid": f"out{next(self._ids)}"}

        @app.post("/cgi-bin/message/send")
        async def message_send(request: Request, access_token: str = "") -> dict[str, Any]:
            if error := self._token_error(access_token, "app"):
                return error
            body = await request.json()
            if str(body.get("agentid")) != AGENT_ID:
                return {"errcode": 40056, "errmsg": "invalid agentid"}
            if error := _content_error(body):
                return error
            self.app_sent.append(body)
            return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "app-out"}

        return app


def _too_long(text: Any, limit: int) -> bool:
    return not isinstance(text, str) or len(text.encode()) > limit


def _content_error(body: dict[str, Any]) -> dict[str, Any] | None:
    """WeCom's checks of a text or menu message (sizes in UTF-8 bytes)."""
    kind = body.get("msgtype")
    if kind not in ("text", "msgmenu") or not isinstance(body.get(kind), dict):
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if kind == "text":
        content = body["text"].get("content")
        if not content or _too_long(content, 2048):
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        return None
    menu = body["msgmenu"]
    items = menu.get("list") or []
    if _too_long(menu.get("head_content", ""), 1024) or not 1 <= len(items) <= 10:
        return {"errcode": 45002, "errmsg": "content size out of limit"}
    for item in items:
        click = item.get("click") or {}
        if item.get("type") != "click" or not click.get("content") or not click.get("id"):
            return {"errcode": 40058, "errmsg": "invalid menu item"}
        if _too_long(click["content"], 128) or _too_long(click["id"], 64):
            return {"errcode": 45002, "errmsg": "content size out of limit"}
    return None
