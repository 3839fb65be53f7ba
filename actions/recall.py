"""Recall check (S8.3): is this model / serial in an active campaign? If so, the notice,
then the customer's phone for a recall service order."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing
from actions.backend import BackendRefused, BackendUnavailable, backend
from actions.common import language, local_time
from actions.forms import Slots, _Validators, reset_form
from actions.messages import say
from actions.settings import settings
from actions.tickets import open_ticket


def announce(dispatcher: CollectingDispatcher, tracker: Tracker, found: dict[str, Any]) -> None:
    """The campaign notice when affected; nothing yet when not (the result action says so)."""
    if not found["affected"]:
        return
    campaign = found["campaigns"][0]
    lang = language(tracker)
    say(
        dispatcher,
        tracker,
        "recall_affected",
        code=campaign["code"],
        hazard=campaign[f"hazard_{lang}"],
        remedy=campaign[f"remedy_{lang}"],
        notice=campaign[f"notice_{lang}"],
    )


class ValidateRecallForm(_Validators):
    """The model (known to the catalogue), the serial or batch when the API needs it, and a
    phone only if the unit is affected (for the recall service order)."""

    def name(self) -> str:
        return "validate_recall_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        needed = ["product_model"]
        if tracker.get_slot("recall_affected") is None and tracker.get_slot("product_model"):
            needed.append("recall_serial")
        if tracker.get_slot("recall_affected"):
            needed.append("phone")
        return needed

    async def validate_product_model(self, value, dispatcher, tracker: Tracker, domain) -> Slots:
        model = parsing.find_code(str(value or "")) or str(value or "").strip()
        try:
            found = await backend().lookup_recall(model, None)
        except BackendRefused:
            say(dispatcher, tracker, "unknown_model", model=model[:64])
            return {"product_model": None}
        except BackendUnavailable:
            say(dispatcher, tracker, "backend_down")
            return {"product_model": None}
        slots: Slots = {"product_model": found["model"]}
        if found["affected"] or not found["missing"]:
            announce(dispatcher, tracker, found)
            slots["recall_affected"] = found["affected"]
            slots["recall_serial"] = "-"
        return slots

    async def validate_recall_serial(self, value, dispatcher, tracker: Tracker, domain) -> Slots:
        text = str(value or "").strip()
        if text == "-":
            return {}
        serial = parsing.find_code(text)  # "序列号GW13-…" → "GW13-…"
        if serial is None:  # "不知道", a question: no answer from the API for that (S8.3)
            say(dispatcher, tracker, "invalid_recall_serial")
            return {"recall_serial": None}
        try:
            found = await backend().lookup_recall(tracker.get_slot("product_model"), serial)
        except (BackendUnavailable, BackendRefused):
            say(dispatcher, tracker, "backend_down")
            return {"recall_serial": None}
        announce(dispatcher, tracker, found)
        return {"recall_serial": serial[:64], "recall_affected": found["affected"]}


class ActionRecallResult(Action):
    def name(self) -> str:
        return "action_recall_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        lang = language(tracker)
        model = tracker.get_slot("product_model")
        serial = tracker.get_slot("recall_serial")
        serial = None if serial in (None, "-") else serial
        if model is None:
            return reset_form("recall_form")
        if not tracker.get_slot("recall_affected"):
            shown = f"({serial}) " if serial else ""
            say(dispatcher, tracker, "recall_not_affected", model=model, serial=shown)
            return reset_form("recall_form")
        body = {
            "kind": "recall",
            "description": f"Recall check: {model} {serial or ''}".strip(),
            "customer": {"phone": tracker.get_slot("phone")},
            "product_model": model,
            "serial_number": serial,
        }
        try:
            ticket = await open_ticket(tracker, body, purpose="recall")
        except (BackendUnavailable, BackendRefused):
            say(dispatcher, tracker, "backend_down")
            return reset_form("recall_form")
        due = local_time(ticket.get("acknowledge_due_at"), lang, settings())
        say(dispatcher, tracker, "recall_ticket", ref=ticket["ref"], due=due)
        return reset_form("recall_form")
