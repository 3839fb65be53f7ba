"""The one HTTP client for the API (actions never touch the database).

- one `httpx.AsyncClient` per process, with a timeout on every call;
- retries (tenacity) on connection errors, timeouts and 502/503/504 only; a ticket
  creation carries an `Idempotency-Key` derived from the conversation and the turn, so a
  retry — ours, or Rasa re-running the action — never makes a second ticket;
- `BackendUnavailable` when the API cannot be reached: the caller tells the customer the
  truth (nothing was recorded); `BackendRefused` for a 4xx, with the API's message.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from actions.settings import Settings, settings

log = logging.getLogger(__name__)


class BackendUnavailable(Exception):
    """The API did not answer (down, timeout, 5xx): nothing can be assumed recorded."""


class BackendRefused(Exception):
    """The API answered 4xx: the request itself was wrong or not allowed."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class _Retryable(Exception):
    pass


def idempotency_key(*parts: str) -> str:
    """A stable key for one logical request (e.g. conversation id + user turn)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


class Backend:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/") + "/api/v1",
            timeout=settings.timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._settings.token()}", **(headers or {})}
        response = await self._client.request(method, path, json=json, headers=headers)
        if response.status_code in (502, 503, 504):
            raise _Retryable(f"{response.status_code} from {path}")
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotency: str | None = None,
    ) -> Any:
        """The decoded JSON of a 2xx answer; raises `BackendRefused` / `BackendUnavailable`."""
        headers = {"Idempotency-Key": idempotency} if idempotency else None
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._settings.attempts),
                wait=wait_exponential(multiplier=0.2, max=2),
                retry=retry_if_exception_type((_Retryable, httpx.TransportError)),
                reraise=True,
            ):
                with attempt:
                    response = await self._send(method, path, json=json, headers=headers)
        except (_Retryable, httpx.TransportError, RuntimeError) as exc:
            log.warning("API %s %s failed: %s", method, path, exc)
            raise BackendUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            log.error("API %s %s answered %s", method, path, response.status_code)
            raise BackendUnavailable(f"{response.status_code} from {path}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise BackendRefused(response.status_code, detail)
        return response.json()

    # --- the calls the actions make ---------------------------------------------------

    async def create_ticket(self, body: dict[str, Any], *, key: str) -> dict[str, Any]:
        return await self.request("POST", "/tickets", json=body, idempotency=key)

    async def get_ticket(self, ref: str) -> dict[str, Any]:
        return await self.request("GET", f"/tickets/{ref}")

    async def timeline(self, ref: str) -> list[dict[str, Any]]:
        return await self.request("GET", f"/tickets/{ref}/timeline")

    async def verify(self, ref: str, **proof: str) -> bool:
        try:
            return bool(
                (await self.request("POST", f"/tickets/{ref}/verify", json=proof))["verified"]
            )
        except BackendRefused as exc:
            if exc.status in (404, 422):
                return False
            raise

    async def rate(self, ref: str, rating: int, comment: str | None) -> dict[str, Any]:
        return await self.request(
            "POST", f"/tickets/{ref}/feedback", json={"rating": rating, "comment": comment}
        )

    async def check_warranty(self, model: str, purchase_date: str) -> dict[str, Any]:
        return await self.request(
            "POST", "/warranty/check", json={"model": model, "purchase_date": purchase_date}
        )

    async def lookup_recall(self, model: str, serial: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model}
        if serial:
            body.update(serial=serial, batch=serial[:32])
        return await self.request("POST", "/recalls/lookup", json=body)

    async def open_conversation(self, channel: str, external_id: str, language: str | None):
        body = {"channel": channel, "external_id": external_id, "language": language}
        return await self.request("POST", "/conversations", json=body)

    async def hand_off(self, conversation_id: int, reason: str, summary: dict, urgent: bool):
        return await self.request(
            "POST",
            f"/conversations/{conversation_id}/handoff",
            json={"reason": reason, "summary": summary, "urgent": urgent},
        )

    async def release(self, conversation_id: int) -> dict[str, Any]:
        return await self.request("POST", f"/conversations/{conversation_id}/release")

    async def log_unrecognised(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", "/unrecognised", json=body)

    async def link_ticket(self, conversation_id: int, ref: str) -> dict[str, Any]:
        return await self.request(
            "POST", f"/conversations/{conversation_id}/ticket", json={"ref": ref}
        )


_backend: Backend | None = None


def backend() -> Backend:
    """The process's client, created on first use (not at import time)."""
    global _backend
    if _backend is None:
        _backend = Backend(settings())
    return _backend
