"""The client of WeCom's server API (qyapi.weixin.qq.com): access tokens, 微信客服 (kf)
messages, and the self-built app's messages.

Each secret has its own access token, fetched with `gettoken` and kept in the gateway's
shared state until shortly before it expires; a call refused for an invalid or expired
token fetches a new one and is tried once more. Every answer with `errcode` ≠ 0 — and no
answer at all — is a `WecomError` (WeCom's code and message, never the message contents).
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.settings import GatewaySettings
from bot.state import State

TOKEN_MARGIN = 300  # seconds before expiry a token is fetched again
STALE_TOKEN = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
NO_ANSWER = -1  # WeCom's own code for "busy, try again"


class WecomError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom error {errcode}: {errmsg}")
        self.errcode = errcode


class WecomClient:
    def __init__(self, settings: GatewaySettings, state: State) -> None:
        self.settings = settings
        self.state = state
        self._http = httpx.AsyncClient(base_url=settings.wecom_api_base_url, timeout=10)
        self._secrets = {"kf": settings.wecom_kf_secret, "app": settings.wecom_app_secret}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise WecomError(NO_ANSWER, f"{path}: {type(exc).__name__}") from exc
        if body.get("errcode", 0) != 0:
            raise WecomError(body["errcode"], body.get("errmsg", ""))
        return body

    async def _token(self, kind: str, *, fresh: bool = False) -> str:
        key = f"wecom:token:{self.settings.wecom_corp_id}:{kind}"
        if not fresh and (cached := await self.state.get(key)):
            return cached
        params = {"corpid": self.settings.wecom_corp_id, "corpsecret": self._secrets[kind]}
        body = await self._request("GET", "/cgi-bin/gettoken", params=params)
        ttl = max(60, int(body.get("expires_in", 7200)) - TOKEN_MARGIN)
        await self.state.put(key, body["access_token"], ttl=ttl)
        return body["access_token"]

    async def call(self, kind: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `path` with the access token of `kind` ("kf" or "app")."""
        try:
            return await self._post(path, body, await self._token(kind))
        except WecomError as exc:
            if exc.errcode not in STALE_TOKEN:
                raise
        return await self._post(path, body, await self._token(kind, fresh=True))

    async def _post(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        return await self._request("POST", path, params={"access_token": token}, json=body)

    async def sync_messages(
        self, open_kfid: str, cursor: str | None, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One page of `kf/sync_msg`: (messages, next cursor, has more)."""
        body: dict[str, Any] = {"open_kfid": open_kfid, "limit": 1000}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        page = await self.call("kf", "/cgi-bin/kf/sync_msg", body)
        return page.get("msg_list", []), page.get("next_cursor"), bool(page.get("has_more"))

    async def send_kf(self, open_kfid: str, external_userid: str, message: dict[str, Any]):
        body = {"touser": external_userid, "open_kfid": open_kfid, **message}
        return await self.call("kf", "/cgi-bin/kf/send_msg", body)

    async def send_kf_on_event(self, code: str, message: dict[str, Any]):
        """The one message an event's code allows (the welcome of `enter_session`)."""
        return await self.call("kf", "/cgi-bin/kf/send_msg_on_event", {"code": code, **message})

    async def send_app(self, userid: str, content: str) -> dict[str, Any]:
        body = {
            "touser": userid,
            "msgtype": "text",
            "agentid": int(self.settings.wecom_agent_id),
            "text": {"content": content},
        }
        return await self.call("app", "/cgi-bin/message/send", body)
