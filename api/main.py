"""The application factory; `api.main:app` is the ASGI app."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import bus, crypto, log_redaction
from api.db import Database
from api.errors import DomainError
from api.middleware import BodySizeLimit
from api.routes import (
    audit,
    auth,
    canned,
    console,
    conversations,
    customers,
    health,
    products,
    qa,
    reports,
    sla,
    staff,
    tickets,
    unrecognised,
)
from api.services import jobs
from api.settings import Settings, get_settings

ROUTERS = (
    health, auth, staff, tickets, customers, conversations, canned, products, sla, reports,
    qa, unrecognised, audit, console,
)  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    crypto.configure(settings.master_key)
    settings.service_bearer  # noqa: B018  (generated now, so clients can read var/service_token)
    db = Database.connect(settings.db_url)
    events = bus.connect(settings.redis_url)
    bus.configure(events)
    gateway = _gateway(events) if settings.embed_gateway else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log_redaction.install(settings.log_level)
        async with jobs.background(db, settings), _lifespan_of(gateway):
            yield
        await events.aclose()
        db.dispose()

    app = FastAPI(
        title="After-sales service desk",
        version="0.1.0",
        description="Tickets, workflow, SLA, feedback and reports for the after-sales hotline "
        "(T/BSTIS 003-2024).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.context}, status_code=exc.status_code)

    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/console", console.static_files(), name="console")
    if gateway is not None:
        app.mount("/", gateway)  # after the API's routes, which match first
    return app


def _gateway(events: bus.Bus) -> FastAPI:
    """The channels' gateway (bot/), publishing to and reading from this app's bus."""
    from bot.gateway import create_app as create_gateway

    return create_gateway(bus=events)


@asynccontextmanager
async def _lifespan_of(app: FastAPI | None):
    """Starlette does not run a mounted app's lifespan: the API runs the gateway's."""
    if app is None:
        yield
        return
    async with app.router.lifespan_context(app):
        yield


@lru_cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    """`api.main:app` is built on first access, not on import (PEP 562)."""
    if name == "app":
        return _default_app()
    raise AttributeError(name)
