"""Ticket status for a verified customer: status, last update, next step, due time and the
latest public timeline entries."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import BackendRefused, BackendUnavailable, backend
from actions.common import KIND_NAMES, STATUS_NAMES, language, local_time, name_of
from actions.forms import reset_form
from actions.messages import say
from actions.settings import settings

TIMELINE_ENTRIES = 3
DUE = {"zh": "预计完成时间：{}\n", "en": "Due by: {}\n"}
HISTORY = {"zh": "最近记录：", "en": "Recent history:"}


def timeline_text(entries: list[dict], lang: str) -> str:
    lines = []
    for entry in entries[-TIMELINE_ENTRIES:]:
        status = name_of(STATUS_NAMES, entry["status"], lang) if entry.get("status") else ""
        text = entry.get("text") or ""
        lines.append(f"· {local_time(entry['at'], lang, settings())} {status} {text}".rstrip())
    return (HISTORY[lang] + "\n" + "\n".join(lines)) if lines else ""


class ActionShowStatus(Action):
    def name(self) -> str:
        return "action_show_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        ref = tracker.get_slot("verified_ref")
        if tracker.get_slot("verification_failed") or not ref:
            return reset_form("status_form")
        lang = language(tracker)
        try:
            ticket = await backend().get_ticket(ref)
            entries = await backend().timeline(ref)
        except (BackendUnavailable, BackendRefused):
            say(dispatcher, tracker, "backend_down")
            return reset_form("status_form")
        open_ = ticket["status"] not in ("resolved", "closed", "cancelled")
        say(
            dispatcher,
            tracker,
            "ticket_status",
            ref=ref,
            kind=name_of(KIND_NAMES, ticket["kind"], lang),
            status=name_of(STATUS_NAMES, ticket["status"], lang),
            updated=local_time(ticket["updated_at"], lang, settings()),
            next_step=ticket["next_step"][lang],
            due_line=DUE[lang].format(local_time(ticket["resolve_due_at"], lang, settings()))
            if open_ and ticket.get("resolve_due_at")
            else "",
            timeline=timeline_text(entries, lang),
        )
        if ticket["status"] == "resolved" and not ticket.get("feedback"):
            say(dispatcher, tracker, "rate_prompt", ref=ref)
        return reset_form("status_form")
