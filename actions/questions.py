"""The forms' questions: `action_ask_<slot>` says the response `ask_<slot>`.

Rasa would use responses named `utter_ask_<slot>` by itself, but `rasa data validate
--fail-on-warnings` counts every `utter_` response that no story or rule names as
unused; the questions are named `ask_<slot>` and asked by these actions instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.messages import say

ASKED_SLOTS = (
    "product", "complaint_details", "occurred_on", "remedy", "phone", "service_type", "problem",
    "serial_or_order", "purchase_date", "address", "preferred_time", "ticket_ref",
    "phone_last4", "rating", "feedback_comment", "product_model", "recall_serial",
)  # fmt: skip


class _Ask(Action, ABC):
    slot: str

    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        say(dispatcher, tracker, f"ask_{self.slot}")
        return []


# one class per question: the action server registers every subclass of Action
QUESTIONS = [
    type(f"Ask_{slot}", (_Ask,), {"slot": slot, "name": lambda self: f"action_ask_{self.slot}"})
    for slot in ASKED_SLOTS
]
