"""The custom actions' messages (actions/messages.yml), in the customer's language.

They live beside the actions rather than in domain.yml because `rasa data validate
--fail-on-warnings` requires every domain response to appear in a story or rule.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language

CATALOGUE = Path(__file__).with_name("messages.yml")


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def _fill(payload: str, values: dict[str, Any]) -> str:
    """A button payload with its `{placeholders}` filled in; its JSON braces stay as they are."""
    for name, value in values.items():
        payload = payload.replace("{" + name + "}", str(value))
    return payload


def render(key: str, lang: str, **values: Any) -> dict[str, Any]:
    """The message `key` in `lang` ("zh" or "en") with its placeholders filled in."""
    entry = catalogue()[key]
    message: dict[str, Any] = {"text": entry[lang].format(**values)}
    if entry.get("buttons"):
        message["buttons"] = [
            {"title": b[lang], "payload": _fill(b["payload"], values)} for b in entry["buttons"]
        ]
    return message


def say(dispatcher: CollectingDispatcher, tracker: Tracker, key: str, **values: Any) -> None:
    dispatcher.utter_message(**render(key, language(tracker), **values))
