"""The gateway: every customer channel, routing each conversation to the bot or an agent.

`bot.gateway:app` is its ASGI app on its own (`uvicorn bot.gateway:app`; several at once
share their state and the API's bus through `REDIS_URL`). In the embedded default the
API mounts it (`api/main.py`), so one port serves the API, the widget and the webhooks.

    channel ──► Router.receive ──► API (log) ──► Rasa (bot mode) ──► replies ──► channel
    API bus ──► Deliverer / WebChannel.follow ──► agent replies ──► channel
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache

from fastapi import FastAPI

from api import bus as api_bus
from bot import state as gateway_state
from bot.api_client import ApiClient
from bot.channels.base import Channel
from bot.channels.web import WebChannel
from bot.delivery import DELIVERY_GROUP, Deliverer
from bot.rasa_client import RasaClient
from bot.routing import Router
from bot.settings import GatewaySettings, get_settings
from bot.spool import Replayer
from bot.state import State

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: GatewaySettings
    bus: api_bus.Bus
    state: State
    api: ApiClient
    rasa: RasaClient
    router: Router
    web: WebChannel
    channels: dict[str, Channel]
    deliverer: Deliverer
    replayer: Replayer

    @classmethod
    def build(cls, settings: GatewaySettings, bus: api_bus.Bus) -> Gateway:
        state = gateway_state.connect(settings.redis_url, settings.var_dir)
        api, rasa = ApiClient(settings), RasaClient(settings)
        router = Router(settings, api, rasa, state)
        web = WebChannel(router, api)
        channels: dict[str, Channel] = {"web": web}
        if settings.telegram_enabled:
            from bot.channels.telegram import TelegramChannel

            channels["telegram"] = TelegramChannel(settings, router, state)
        if settings.wecom_enabled:
            from bot.channels.wecom import WecomChannel

            channels["wecom"] = WecomChannel(settings, router, state)
        return cls(
            settings, bus, state, api, rasa, router, web, channels,
            Deliverer(api, rasa, channels), Replayer(settings, api, state),
        )  # fmt: skip

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The background work: spool replay, deliveries, the web push, channel polling."""
        tasks = [
            asyncio.create_task(self.replayer.run(), name="spool-replay"),
            asyncio.create_task(self.bus.consume(DELIVERY_GROUP, self.deliverer.handle)),
            asyncio.create_task(self.web.follow(self.bus), name="web-push"),
        ]
        started: list[Channel] = []
        try:
            for channel in self.channels.values():
                await channel.start()
                started.append(channel)
            log.info("gateway channels: %s", ", ".join(self.channels))
            yield
        finally:
            for channel in reversed(started):
                await channel.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.api.aclose()
            await self.rasa.aclose()
            await self.state.aclose()


def create_app(settings: GatewaySettings | None = None, *, bus: api_bus.Bus | None = None):
    """The gateway app. `bus`: the API's, when the API mounts it in its own process;
    otherwise the Redis bus of `REDIS_URL`, which a gateway on its own needs."""
    settings = settings or get_settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with ids
    own_bus = bus is None
    if own_bus and not settings.redis_url:
        raise RuntimeError(
            "a gateway in a process of its own needs REDIS_URL (the API's event bus); "
            "without it, run the API, which mounts the gateway"
        )
    gateway = Gateway.build(settings, bus or api_bus.connect(settings.redis_url))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with gateway.running():
            yield
        if own_bus:
            await gateway.bus.aclose()

    app = FastAPI(title="Gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.gateway = gateway
    for channel in gateway.channels.values():
        app.include_router(channel.routes)
    return app


@lru_cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    """`bot.gateway:app` is built on first access, not on import (PEP 562)."""
    if name == "app":
        return _default_app()
    raise AttributeError(name)
