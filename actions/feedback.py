"""Satisfaction feedback on a resolved ticket (S4.6): a rating of 2 or less is apologised
for, reopens or escalates the ticket (the API decides) and is offered a human."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import BackendRefused, BackendUnavailable, backend
from actions.common import language, name_of
from actions.forms import reset_form
from actions.messages import say

OUTCOME = {
    "reopened": ("重新打开", "reopened"),
    "escalated": ("升级处理", "escalated"),
}


class ActionSubmitFeedback(Action):
    def name(self) -> str:
        return "action_submit_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        ref = tracker.get_slot("verified_ref")
        if tracker.get_slot("verification_failed") or not ref:
            return reset_form("feedback_form")
        rating = int(tracker.get_slot("rating"))
        comment = tracker.get_slot("feedback_comment")
        try:
            result = await backend().rate(ref, rating, None if comment in (None, "-") else comment)
        except BackendRefused as exc:
            already = exc.status == 409 and "already" in str(exc.detail).lower()
            say(dispatcher, tracker, "feedback_already" if already else "feedback_not_yet", ref=ref)
            return reset_form("feedback_form")
        except BackendUnavailable:
            say(dispatcher, tracker, "backend_down")
            return reset_form("feedback_form")
        if rating > 2:
            say(dispatcher, tracker, "feedback_thanks", rating=rating)
            return reset_form("feedback_form")
        outcome = name_of(
            OUTCOME, "reopened" if result["reopened"] else "escalated", language(tracker)
        )
        say(dispatcher, tracker, "feedback_unhappy", ref=ref, outcome=outcome)
        return [*reset_form("feedback_form"), SlotSet("feedback_outcome", "unhappy")]
