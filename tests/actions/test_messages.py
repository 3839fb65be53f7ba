"""Every message the actions send exists in both languages with the same placeholders."""

import string

import pytest

from actions.messages import catalogue, render
from actions.questions import ASKED_SLOTS


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(catalogue()))
def test_bilingual_with_the_same_placeholders(key):
    entry = catalogue()[key]
    assert entry["zh"].strip() and entry["en"].strip()
    assert placeholders(entry["zh"]) == placeholders(entry["en"])
    for button in entry.get("buttons", []):
        assert button["zh"] and button["en"] and button["payload"].startswith("/")


def test_every_form_question_exists():
    assert {f"ask_{slot}" for slot in ASKED_SLOTS} <= set(catalogue())


def test_render_picks_the_language_and_fills_in():
    zh = render("complaint_created", "zh", ref="CS-20261125-0001", due="明天")
    en = render("complaint_created", "en", ref="CS-20261125-0001", due="tomorrow")
    assert "CS-20261125-0001" in zh["text"] and "投诉" in zh["text"]
    assert "CS-20261125-0001" in en["text"] and "complaint" in en["text"]
    assert [b["title"] for b in render("no_agent", "en")["buttons"]] == [
        "Yes, call me back",
        "No, thanks",
    ]


def test_a_button_payload_gets_its_placeholders_and_keeps_its_json():
    (button,) = render("rate_prompt", "zh", ref="CS-20261125-0001")["buttons"]
    assert button["payload"] == '/give_feedback{"ticket_ref": "CS-20261125-0001"}'
    assert render("ask_service_type", "en")["buttons"][0]["payload"] == (
        '/request_service{"service_type":"repair"}'
    )
