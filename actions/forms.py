"""Form validators: each checks what the customer typed, keeps a clean value, or clears the
slot with a message that says how to answer (the form then asks again).

`validate_status_form` and `validate_feedback_form` share the ticket verification
(`_VerifiedTicket`): a ticket is shown or rated only for the customer writing from the
channel identity on the ticket, or who gives the last four digits of its phone.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.backend import BackendUnavailable, backend
from actions.common import CATEGORY_NAMES, channel_identity, language, name_of
from actions.messages import say
from actions.settings import settings

Slots = dict[str, Any]

# slots each form fills; cleared when it ends or is cancelled
FORM_SLOTS = {
    "complaint_form": ["product", "product_model", "complaint_details", "occurred_on", "remedy",
                       "phone", "confirmed"],
    "service_form": ["service_type", "product", "product_model", "problem", "serial_or_order",
                     "purchase_date", "address", "preferred_time", "phone", "confirmed"],
    "status_form": ["ticket_ref", "phone_last4", "verified_ref", "verification_failed"],
    "feedback_form": ["ticket_ref", "phone_last4", "verified_ref", "verification_failed",
                      "rating", "feedback_comment"],
    "recall_form": ["product_model", "recall_serial", "recall_affected", "phone"],
    "callback_form": ["phone"],
}  # fmt: skip
# what the bot offered and awaits a yes or no to (see data/rules.yml)
OFFER_SLOTS = ("handoff_outcome", "feedback_outcome")
MIN_TEXT = 4  # characters: "漏水了" is enough, "a" is not


def _latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message or {}).get("intent", {}).get("name")


class _Validators(FormValidationAction):
    """Validators several forms share."""

    @abstractmethod
    def name(self) -> str: ...

    def validate_product(self, value: Any, dispatcher, tracker: Tracker, domain) -> Slots:
        """The kind of product in the customer's language, with the model when given
        ("洗衣机 XQG100-B14"): both may come in one message as two entities."""
        text = str(value or "").strip()
        if not text:
            say(dispatcher, tracker, "invalid_text")
            return {"product": None}
        found = {
            e["entity"]: e.get("value")
            for e in reversed((tracker.latest_message or {}).get("entities") or [])
        }
        model = (
            found.get("product_model")
            or tracker.get_slot("product_model")
            or parsing.find_code(text)
        )
        category = found.get("product") or text
        product = name_of(CATEGORY_NAMES, str(category), language(tracker))
        if model and model.upper() not in product.upper():
            product = f"{product} {model}"
        return {"product": product[:128], "product_model": model}

    def validate_phone(self, value: Any, dispatcher, tracker: Tracker, domain) -> Slots:
        phone = parsing.normalise_phone(str(value or "")) or parsing.find_phone(str(value or ""))
        if phone is None:
            say(dispatcher, tracker, "invalid_phone")
        return {"phone": phone}

    def _text(self, slot: str, value: Any, dispatcher, tracker: Tracker) -> Slots:
        text = str(value or "").strip()
        if len(text) < MIN_TEXT and not any("\u4e00" <= c <= "\u9fff" for c in text):
            say(dispatcher, tracker, "invalid_text")
            return {slot: None}
        return {slot: text[:2000]}

    def _past_date(self, slot: str, value: Any, dispatcher, tracker: Tracker) -> Slots:
        found = parsing.parse_past_date(str(value or ""), settings().today())
        if found is None:
            say(dispatcher, tracker, "invalid_date")
            return {slot: None}
        return {slot: found.isoformat()}


class ValidateComplaintForm(_Validators):
    def name(self) -> str:
        return "validate_complaint_form"

    async def extract_complaint_details(self, dispatcher, tracker: Tracker, domain) -> Slots:
        """The message that opened the complaint, if it already says what happened."""
        text = (tracker.latest_message or {}).get("text") or ""
        if (
            tracker.get_slot("requested_slot") is None
            and tracker.get_slot("complaint_details") is None
            and _latest_intent(tracker) == "file_complaint"
            and parsing.describes_problem(text)
        ):
            return {"complaint_details": text}
        return {}

    def validate_complaint_details(self, value, dispatcher, tracker, domain) -> Slots:
        return self._text("complaint_details", value, dispatcher, tracker)

    def validate_occurred_on(self, value, dispatcher, tracker, domain) -> Slots:
        return self._past_date("occurred_on", value, dispatcher, tracker)

    def validate_remedy(self, value, dispatcher, tracker, domain) -> Slots:
        return {"remedy": str(value).strip()[:2000] or None}


class ValidateServiceForm(_Validators):
    def name(self) -> str:
        return "validate_service_form"

    async def extract_problem(self, dispatcher, tracker: Tracker, domain) -> Slots:
        """The message that opened the request usually says what is wrong or wanted
        ("my fridge is not cooling"); a button press does not, so then it is asked."""
        text = (tracker.latest_message or {}).get("text") or ""
        if (
            tracker.get_slot("requested_slot") is None
            and tracker.get_slot("problem") is None
            and _latest_intent(tracker) == "request_service"
            and not text.startswith("/")
        ):
            return {"problem": text[:2000]}
        return {}

    def validate_service_type(self, value, dispatcher, tracker, domain) -> Slots:
        """One of the four kinds, whatever else the model tagged ("a dead pixel line"): a
        word that is none of them is dropped, and the form asks when none is left. The kinds
        are the slot's values in domain.yml, which Rasa sends with every call."""
        kinds = domain["slots"]["service_type"]["values"]
        values = value if isinstance(value, list) else [value]
        return {"service_type": next((v for v in values if v in kinds), None)}

    def validate_problem(self, value, dispatcher, tracker, domain) -> Slots:
        return self._text("problem", value, dispatcher, tracker)

    def validate_serial_or_order(self, value, dispatcher, tracker, domain) -> Slots:
        text = str(value or "").strip()
        return {"serial_or_order": "-" if parsing.says_none(text) else text[:64]}

    def validate_purchase_date(self, value, dispatcher, tracker, domain) -> Slots:
        return self._past_date("purchase_date", value, dispatcher, tracker)

    def validate_address(self, value, dispatcher, tracker, domain) -> Slots:
        return self._text("address", value, dispatcher, tracker)

    def validate_preferred_time(self, value, dispatcher, tracker, domain) -> Slots:
        return {"preferred_time": str(value).strip()[:128] or None}


class _VerifiedTicket(_Validators):
    """`ticket_ref` then, unless the channel identity proves it, `phone_last4`."""

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        if tracker.get_slot("verification_failed"):
            return []
        verified = tracker.get_slot("verified_ref")
        return [
            s
            for s in domain_slots
            if not (s == "phone_last4" and verified and verified == tracker.get_slot("ticket_ref"))
        ]

    async def validate_ticket_ref(self, value, dispatcher, tracker: Tracker, domain) -> Slots:
        ref = parsing.find_ticket_ref(str(value or ""))
        if ref is None:
            say(dispatcher, tracker, "invalid_ticket_ref")
            return {"ticket_ref": None}
        channel, external_id = channel_identity(tracker)
        try:
            verified = await backend().verify(ref, channel=channel, external_id=external_id)
        except BackendUnavailable:
            say(dispatcher, tracker, "backend_down")
            return {"ticket_ref": None, "verification_failed": True}
        return {"ticket_ref": ref, "verified_ref": ref if verified else None}

    async def validate_phone_last4(self, value, dispatcher, tracker: Tracker, domain) -> Slots:
        last4 = parsing.find_last4(str(value or ""))
        if last4 is None:
            say(dispatcher, tracker, "invalid_last4")
            return {"phone_last4": None}
        ref = tracker.get_slot("ticket_ref")
        try:
            verified = await backend().verify(ref, phone_last4=last4)
        except BackendUnavailable:
            say(dispatcher, tracker, "backend_down")
            return {"phone_last4": None, "verification_failed": True}
        if not verified:
            say(dispatcher, tracker, "verification_failed")
            return {"phone_last4": None, "verification_failed": True}
        return {"phone_last4": last4, "verified_ref": ref}


class ValidateStatusForm(_VerifiedTicket):
    def name(self) -> str:
        return "validate_status_form"


class ValidateFeedbackForm(_VerifiedTicket):
    def name(self) -> str:
        return "validate_feedback_form"

    def validate_rating(self, value, dispatcher, tracker, domain) -> Slots:
        # the whole message first: "2 out of 5" may come as two entities, "2" and "5"
        text = (tracker.latest_message or {}).get("text") or ""
        rating = parsing.parse_rating(text) or parsing.parse_rating(str(value or ""))
        if rating is None:
            say(dispatcher, tracker, "invalid_rating")
        return {"rating": str(rating) if rating else None}

    def validate_feedback_comment(self, value, dispatcher, tracker, domain) -> Slots:
        text = str(value or "").strip()
        return {"feedback_comment": "-" if parsing.says_none(text) else text[:2000]}


class ValidateCallbackForm(_Validators):
    def name(self) -> str:
        return "validate_callback_form"


class ActionCancelForm(Action):
    """The customer changed their mind: stop the form, forget what it collected."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        form = (tracker.active_loop or {}).get("name")
        say(dispatcher, tracker, "cancelled")
        events = [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + [SlotSet(slot, None) for slot in FORM_SLOTS.get(form, [])]


class ActionDeclineOffer(Action):
    """The customer said no to what the bot offered (a call-back when no agent was free,
    an agent after a low rating): nothing is done, and the offer is forgotten."""

    def name(self) -> str:
        return "action_decline_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_anything_else")  # a domain response
        return [SlotSet(slot, None) for slot in OFFER_SLOTS]


def reset_form(form: str) -> list[dict[str, Any]]:
    """Events that forget what `form` collected (after it was submitted)."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS[form]]
