"""Background jobs run inside the API process (also runnable on demand by the CLI)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.db import Database, utcnow
from api.services import escalation
from api.settings import Settings

log = logging.getLogger(__name__)


def run_periodic_jobs(db: Database, settings: Settings) -> dict:
    """One pass of every periodic job; returns how many tickets each acted on."""
    now = utcnow()
    return {
        "sla_breaches": len(escalation.check_breaches(db, settings, now)),  # S9.1
        "auto_closed": len(escalation.auto_close(db, settings, now)),  # S6.4
    }


@asynccontextmanager
async def background(db: Database, settings: Settings) -> AsyncIterator[None]:
    """Run the periodic jobs every `SLA_CHECK_SECONDS` while the app is up (0 = never)."""
    if settings.sla_check_seconds <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(settings.sla_check_seconds)
            try:
                result = await asyncio.to_thread(run_periodic_jobs, db, settings)
                log.info("periodic jobs: %s", result)
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("periodic jobs failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
