"""The gateway's own texts (bot/texts.yml), in the customer's language."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.messages import Reply

CATALOGUE = Path(__file__).with_name("texts.yml")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def text(key: str, language: str | None, **values: Any) -> str:
    """The text `key` in `language` (Chinese unless it is English)."""
    entry = catalogue()[key]
    return entry["en" if language == "en" else "zh"].format(**values)


def reply(key: str, language: str | None, **values: Any) -> Reply:
    return Reply(text(key, language, **values), sender="system")
