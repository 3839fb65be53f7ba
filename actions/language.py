"""Which language the customer writes in (the slot `language`: zh or en).

The slot is a custom slot mapping: Rasa runs `action_detect_language` after every
customer message, before any reply, so each response is chosen in the language of the
message it answers. A message with no words of either kind (a phone number, a
reference, "1", a button payload) keeps the current language; once a language is set,
one lone English word ("ok") does not switch a Chinese conversation to English.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# words without digits: model codes and references say nothing about the language
_LATIN_WORD = re.compile(r"(?<![\w-])[A-Za-z\uff21-\uff3a\uff41-\uff5a]{2,}(?![\w-])")


def detect(text: str, current: str | None) -> str | None:
    """The language of `text`, or `current` when the text does not tell."""
    if not text or text.startswith("/"):
        return current
    han = len(_HAN.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if han and han * 2 >= words:
        return "zh"
    if words >= 2 or (words == 1 and current is None):
        return "en"
    return current


class ActionDetectLanguage(Action):
    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        current = tracker.get_slot("language")
        found = detect(tracker.latest_message.get("text") or "", current)
        return [SlotSet("language", found)] if found and found != current else []
