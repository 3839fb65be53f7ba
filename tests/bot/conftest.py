"""Fixtures of the gateway's tests: local doubles of the Telegram Bot API and the WeCom
API on 127.0.0.1, and the whole stack (API with the gateway mounted, action server, Rasa
with the trained model) configured to talk to them.

Each double is a class with a `running()` context manager yielding an instance whose
`env` holds the gateway settings that point it at the double (tests/bot/doubles/).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests import processes


@pytest.fixture
def api(live_server) -> Iterator[httpx.Client]:
    """The API of `live_server` as the gateway sees it (the service token)."""
    headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
    with httpx.Client(base_url=f"{live_server}/api/v1", headers=headers) as client:
        yield client


@pytest.fixture(scope="session")
def telegram_api():
    from tests.bot.doubles.telegram import TelegramBotApi

    with TelegramBotApi.running() as double:
        yield double


@pytest.fixture(scope="session")
def wecom_api():
    from tests.bot.doubles.wecom import WecomApi

    with WecomApi.running() as double:
        yield double


@pytest.fixture(scope="session")
def channels_stack(tmp_path_factory, telegram_api, wecom_api) -> Iterator[processes.Stack]:
    """Every process, the gateway with all three channels (Telegram and WeCom on the
    doubles)."""
    if not processes.MODEL.exists():
        pytest.fail(f"no trained model at {processes.MODEL}: run `make train`")
    env = {**telegram_api.env, **wecom_api.env}
    with processes.stack(tmp_path_factory.mktemp("var"), extra_env=env) as running:
        yield running
