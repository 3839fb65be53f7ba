"""Action tests: run in the Rasa environment (.venv-rasa) against the real API, started
once per session from .venv on a fresh SQLite database with the demo catalogue.

Run with `make test` (or `.venv-rasa/bin/python -m pytest tests/actions --confcutdir
tests/actions`); the API-side conftest one level up is not loaded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import backend as backend_module
from actions import settings as settings_module
from tests import processes

PASSWORD = "correct-horse-9"


@pytest.fixture(scope="session")
def api(tmp_path_factory) -> Iterator[processes.Stack]:
    with processes.stack(tmp_path_factory.mktemp("var"), actions=False, rasa=False) as stack:
        yield stack


@pytest.fixture(autouse=True)
def action_env(api, monkeypatch) -> Iterator[None]:
    """Point the actions' client at the test API; a fresh client per test."""
    monkeypatch.setenv("API_URL", api.api_url)
    monkeypatch.setenv("SERVICE_TOKEN", processes.SERVICE_TOKEN)
    monkeypatch.setenv("API_ATTEMPTS", "2")
    settings_module.settings.cache_clear()
    backend_module._backend = None
    yield
    backend_module._backend = None
    settings_module.settings.cache_clear()


@pytest.fixture
def api_down(monkeypatch) -> None:
    """Nothing listens on the API's port any more."""
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{processes.free_port()}")
    monkeypatch.setenv("API_TIMEOUT", "1")
    settings_module.settings.cache_clear()
    backend_module._backend = None


@pytest.fixture
def service(api) -> Iterator[httpx.Client]:
    """The API as a service client (the bot's token), for checking what actions did."""
    with processes.service_client(api) as client:
        yield client


@pytest.fixture(scope="session")
def staff(api) -> Iterator[httpx.Client]:
    """A supervisor logged in to the API (to resolve tickets, be available for handoffs)."""
    with processes.staff_client(api, "lead", "supervisor", PASSWORD) as client:
        yield client


def tracker(
    *,
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    sender: str = "web:visitor-1",
    form: str | None = None,
    requested: str | None = None,
    events: list[dict[str, Any]] | None = None,
    message_id: str = "m1",
    language: str = "zh",
) -> Tracker:
    """A tracker as the Rasa server sends it to the action server."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [],
        "message_id": message_id,
    }
    all_slots = {"language": language, "requested_slot": requested, **(slots or {})}
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest,
        events=events or [{"event": "user", "text": text, "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={"name": form} if form else {},
        latest_action_name="action_listen",
    )


async def run(action, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, messages) of one action run."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return events, dispatcher.messages


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
