"""Complaints and service orders: the confirmation read-back and the ticket creation.

The read-back of a service order says whether it is within warranty and the 三包
return / exchange / repair periods (S7.1), from the API's rules for the product model.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import BackendRefused, BackendUnavailable, backend
from actions.common import KIND_NAMES, language, local_time, name_of
from actions.forms import reset_form
from actions.handoff import hand_off
from actions.messages import say
from actions.settings import settings
from actions.tickets import open_ticket

UNKNOWN = {"zh": "未提供", "en": "not given"}
NO_WARRANTY_CHECK = {
    "zh": "无法自动判断（型号不在产品目录中），客服会为您确认。",
    "en": "can't be checked automatically (model not in our catalogue); an agent will confirm.",
}


async def warranty_text(tracker: Tracker, lang: str) -> str:
    model, bought = tracker.get_slot("product_model"), tracker.get_slot("purchase_date")
    if not model or not bought:
        return NO_WARRANTY_CHECK[lang]
    try:
        result = await backend().check_warranty(model, bought)
    except (BackendRefused, BackendUnavailable):
        return NO_WARRANTY_CHECK[lang]
    return result["summary_en"] if lang == "en" else result["summary_zh"]


class ActionAskConfirmed(Action):
    """Reads back what the form collected and asks the customer to confirm."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        lang = language(tracker)
        slot = tracker.get_slot
        if (tracker.active_loop or {}).get("name") == "complaint_form":
            say(
                dispatcher,
                tracker,
                "complaint_summary",
                product=slot("product"),
                details=slot("complaint_details"),
                occurred_on=slot("occurred_on"),
                remedy=slot("remedy"),
                phone=slot("phone"),
            )
            return []
        serial = slot("serial_or_order")
        say(
            dispatcher,
            tracker,
            "service_summary",
            service=name_of(KIND_NAMES, slot("service_type"), lang),
            product=slot("product"),
            serial=UNKNOWN[lang] if serial in (None, "-") else serial,
            purchase_date=slot("purchase_date"),
            address=slot("address"),
            preferred_time=slot("preferred_time"),
            phone=slot("phone"),
            warranty=await warranty_text(tracker, lang),
        )
        return []


async def _submit(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    form: str,
    body: dict[str, Any],
    created_response: str,
) -> dict[str, Any] | None:
    """Create the ticket unless the customer said the read-back was wrong; None if not made."""
    if not tracker.get_slot("confirmed"):
        say(dispatcher, tracker, "not_submitted")
        return None
    try:
        ticket = await open_ticket(tracker, body, purpose=form)
    except (BackendUnavailable, BackendRefused):
        say(dispatcher, tracker, "backend_down")
        return None
    due = local_time(ticket.get("acknowledge_due_at"), language(tracker), settings())
    say(dispatcher, tracker, created_response, ref=ticket["ref"], due=due)
    return ticket


class ActionSubmitComplaint(Action):
    """Files the complaint; a safety or top-priority one goes straight to an agent."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher, tracker: Tracker, domain):
        slot = tracker.get_slot
        body = {
            "kind": "complaint",
            "description": slot("complaint_details"),
            "customer": {"phone": slot("phone")},
            "product_model": slot("product_model"),
            "occurred_on": slot("occurred_on"),
            "remedy_sought": slot("remedy"),
            "category": "product" if slot("product_model") else None,
        }
        body["description"] = f"[{slot('product')}] {body['description']}"
        ticket = await _submit(
            dispatcher,
            tracker,
            form="complaint_form",
            body=body,
            created_response="complaint_created",
        )
        events: list[dict[str, Any]] = reset_form("complaint_form")
        if ticket is not None:
            events.append(SlotSet("ticket_ref", ticket["ref"]))
            if ticket["safety"] or ticket["priority"] == 1:
                say(dispatcher, tracker, "safety_handoff")
                events += await hand_off(dispatcher, tracker, reason="safety", urgent=True)
        return events


class ActionSubmitServiceRequest(Action):
    def name(self) -> str:
        return "action_submit_service_request"

    async def run(self, dispatcher, tracker: Tracker, domain):
        slot = tracker.get_slot
        serial = slot("serial_or_order")
        kind = slot("service_type")
        body = {
            "kind": kind,
            "description": slot("problem") or f"{kind}: {slot('product')}",
            "customer": {"phone": slot("phone"), "address": slot("address")},
            "product_model": slot("product_model"),
            "serial_number": serial if serial not in (None, "-") else None,
            "purchase_date": slot("purchase_date"),
            "address": slot("address"),
            "preferred_time": slot("preferred_time"),
        }
        ticket = await _submit(
            dispatcher,
            tracker,
            form="service_form",
            body=body,
            created_response="service_created",
        )
        events = reset_form("service_form")
        if ticket is not None:
            events.append(SlotSet("ticket_ref", ticket["ref"]))
        return events
