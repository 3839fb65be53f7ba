"""Handing the conversation to a human agent (S7.3), and the call-back when none is free.

The API owns the conversation's mode: `hand_off` queues it (`waiting`) with the bot's
summary, so the agent need not ask again. With no agent online the conversation goes
back to the bot at once and the customer is offered a call-back ticket — never a dead end.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import BackendRefused, BackendUnavailable, backend
from actions.common import channel_identity, language, local_time, slots_summary
from actions.messages import say
from actions.settings import settings
from actions.tickets import open_ticket

log = logging.getLogger(__name__)

# what the agent sees of the dialogue so far
SUMMARY_SLOTS = [
    "service_type", "product", "product_model", "problem", "complaint_details", "occurred_on",
    "remedy", "serial_or_order", "purchase_date", "preferred_time", "ticket_ref", "rating",
]  # fmt: skip


def summary(tracker: Tracker) -> dict[str, Any]:
    intents = [
        e["parse_data"]["intent"].get("name")
        for e in tracker.events
        if e.get("event") == "user" and e.get("parse_data", {}).get("intent")
    ]
    return {
        "language": language(tracker),
        "intents": [i for i in intents if i][-5:],
        "last_message": (tracker.latest_message or {}).get("text"),
        "active_form": (tracker.active_loop or {}).get("name"),
        "slots": slots_summary(tracker, SUMMARY_SLOTS),
    }


async def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, reason: str, urgent: bool = False
) -> list[dict[str, Any]]:
    """Queue the conversation for an agent and tell the customer what happens next."""
    api = backend()
    channel, external_id = channel_identity(tracker)
    try:
        conversation = await api.open_conversation(channel, external_id, language(tracker))
        queued = await api.hand_off(conversation["id"], reason, summary(tracker), urgent)
        if queued["agents_available"] > 0:
            say(dispatcher, tracker, "handoff_queued", agents=queued["agents_available"])
            return [SlotSet("handoff_outcome", "queued")]
        await api.release(conversation["id"])
    except (BackendUnavailable, BackendRefused):
        say(dispatcher, tracker, "handoff_failed")
        return [SlotSet("handoff_outcome", "failed")]
    say(dispatcher, tracker, "no_agent")
    return [SlotSet("handoff_outcome", "no_agent")]


class ActionHandoff(Action):
    """The customer asked for a person (转人工), in or out of a form."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        events = await hand_off(dispatcher, tracker, reason="customer_request")
        if tracker.get_slot("feedback_outcome"):  # asked for the agent offered after a low rating
            events.append(SlotSet("feedback_outcome", None))
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events


class ActionAcceptAgentOffer(Action):
    """ "Yes" to the agent offered after a low rating (S4.6, S9.2)."""

    def name(self) -> str:
        return "action_accept_agent_offer"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        events = await hand_off(dispatcher, tracker, reason="low_rating")
        return [*events, SlotSet("feedback_outcome", None)]


# what the bot could not help with: two in a row and the customer gets a person
NOT_HELPED = ("nlu_fallback", "out_of_scope")
UNRECOGNISED_REASONS = {"nlu_fallback": "not_understood", "out_of_scope": "out_of_scope"}


async def note_unrecognised(tracker: Tracker) -> None:
    """Log the message for whoever writes the training data (S12.3), with the model's best
    guess under the fallback. Best effort: the customer's reply never waits on it failing."""
    latest = tracker.latest_message or {}
    reason = UNRECOGNISED_REASONS.get(latest.get("intent", {}).get("name"))
    text = (latest.get("text") or "").strip()
    if reason is None or not text or text.startswith("/"):  # a button press is understood
        return
    guess = next(
        (i for i in latest.get("intent_ranking") or [] if i.get("name") != "nlu_fallback"), {}
    )
    channel, external_id = channel_identity(tracker)
    body = {
        "channel": channel,
        "external_id": external_id,
        "text": text[:4096],
        "language": language(tracker),
        "reason": reason,
        "intent": guess.get("name"),
        "confidence": guess.get("confidence"),
    }
    try:
        await backend().log_unrecognised(body)
    except (BackendUnavailable, BackendRefused) as exc:
        log.warning("could not log an unrecognised message: %s", exc)


class ActionFallback(Action):
    """Not understood (`nlu_fallback`) or out of scope: say so and how to go on; the second
    time in a row, hand off."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        await note_unrecognised(tracker)
        intents = [
            e.get("parse_data", {}).get("intent", {}).get("name")
            for e in tracker.events
            if e.get("event") == "user"
        ]
        if len(intents) >= 2 and all(intent in NOT_HELPED for intent in intents[-2:]):
            return await hand_off(dispatcher, tracker, reason="misunderstood")
        if intents and intents[-1] == "out_of_scope":
            say(dispatcher, tracker, "out_of_scope")
        else:
            dispatcher.utter_message(response="utter_rephrase")  # a domain response
        return []


class ActionSubmitCallback(Action):
    """No agent was free and the customer wants a call-back: an enquiry ticket with their
    number, linked to the conversation."""

    def name(self) -> str:
        return "action_submit_callback"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        lang = language(tracker)
        last = summary(tracker)
        body = {
            "kind": "inquiry",
            "description": "Call-back requested (no agent was online). "
            f"Last message: {last['last_message'] or '-'}",
            "customer": {"phone": tracker.get_slot("phone")},
            "category": "callback",
        }
        reset = [SlotSet("handoff_outcome", None), SlotSet("phone", None)]
        try:
            ticket = await open_ticket(tracker, body, purpose="callback")
        except (BackendUnavailable, BackendRefused):
            say(dispatcher, tracker, "backend_down")
            return reset
        due = local_time(ticket.get("first_response_due_at"), lang, settings())
        say(dispatcher, tracker, "callback_created", ref=ticket["ref"], due=due)
        return reset
