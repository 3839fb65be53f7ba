"""Complaints and service orders: validation, read-back, the ticket in the API, retries."""

from datetime import date
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions import settings as settings_module
from actions.forms import ValidateComplaintForm, ValidateServiceForm
from actions.service_requests import (
    ActionAskConfirmed,
    ActionSubmitComplaint,
    ActionSubmitServiceRequest,
)
from tests.actions.conftest import run, slot_values, tracker

pytestmark = pytest.mark.anyio

COMPLAINT = {
    "product": "洗衣机",
    "product_model": "XQG100-B14",
    "complaint_details": "洗衣机脱水时噪音很大，师傅上门两次都没修好",
    "occurred_on": "2026-11-20",
    "remedy": "换一台新的",
    "phone": "13800138000",
    "confirmed": True,
}
SERVICE = {
    "service_type": "repair",
    "product": "空调",
    "product_model": "KFR-35GW",
    "problem": "空调不制冷了",
    "serial_or_order": "-",
    "purchase_date": "2026-11-01",
    "address": "北京市朝阳区建国路88号1201",
    "preferred_time": "明天上午",
    "phone": "+44 20 7946 0958",
    "confirmed": True,
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_a_confirmed_complaint_becomes_a_ticket(service):
    t = tracker(slots=COMPLAINT, sender="telegram:4242", text="/affirm", intent="affirm")
    events, messages = await run(ActionSubmitComplaint(), t)
    ref = slot_values(events)["ticket_ref"]
    assert ref in messages[0]["text"] and "投诉已登记" in messages[0]["text"]
    ticket = service.get(f"/tickets/{ref}").json()
    assert ticket["kind"] == "complaint"
    assert ticket["description"].endswith(COMPLAINT["complaint_details"])
    assert ticket["product_model"] == "XQG100-B14" and ticket["occurred_on"] == "2026-11-20"
    assert ticket["remedy_sought"] == "换一台新的" and ticket["channel"] == "telegram"
    # the same customer, by channel identity (S5.5), is verified for it
    proof = {"channel": "telegram", "external_id": "4242"}
    assert service.post(f"/tickets/{ref}/verify", json=proof).json() == {"verified": True}
    # the form's slots are forgotten once submitted
    assert slot_values(events)["complaint_details"] is None


async def test_running_the_action_again_on_the_same_turn_makes_no_second_ticket(service):
    t = tracker(slots=COMPLAINT, sender="web:retry", message_id="turn-7")
    first, _ = await run(ActionSubmitComplaint(), t)
    again, _ = await run(ActionSubmitComplaint(), t)
    assert slot_values(first)["ticket_ref"] == slot_values(again)["ticket_ref"]


async def test_a_safety_complaint_goes_to_an_agent(service):
    slots = {**COMPLAINT, "complaint_details": "热水器有很重的煤气味，还冒烟了"}
    events, messages = await run(ActionSubmitComplaint(), tracker(slots=slots, sender="web:gas"))
    ticket = service.get(f"/tickets/{slot_values(events)['ticket_ref']}").json()
    assert ticket["safety"] and ticket["priority"] == 1
    texts = " ".join(m["text"] for m in messages)
    assert "涉及安全" in texts
    assert slot_values(events)["handoff_outcome"] in ("queued", "no_agent")


async def test_a_denied_read_back_files_nothing(service):
    before = service.get("/conversations/by-channel/web/deny-1")
    slots = {**COMPLAINT, "confirmed": False}
    events, messages = await run(ActionSubmitComplaint(), tracker(slots=slots, sender="web:deny-1"))
    assert "ticket_ref" not in slot_values(events)
    assert "没有提交" in messages[0]["text"]
    assert before.status_code == 404  # and nothing was opened for this customer


async def test_the_service_read_back_says_whether_it_is_in_warranty():
    t = tracker(slots=SERVICE, form="service_form", requested="confirmed")
    _, messages = await run(ActionAskConfirmed(), t)
    text = messages[0]["text"]
    assert "维修" in text and "北京市朝阳区" in text and "+442079460958" not in text
    assert "保" in text.split("保修情况：")[1]  # the API's 三包 / warranty summary
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


async def test_the_read_back_in_english_for_an_unknown_model():
    slots = {**SERVICE, "product_model": "ZZ-999", "language": "en"}
    _, messages = await run(ActionAskConfirmed(), tracker(slots=slots, form="service_form"))
    assert "can't be checked automatically" in messages[0]["text"]


async def test_a_service_request_becomes_a_service_order(service):
    events, messages = await run(
        ActionSubmitServiceRequest(), tracker(slots={**SERVICE, "language": "en"})
    )
    ref = slot_values(events)["ticket_ref"]
    assert ref in messages[0]["text"] and "service order" in messages[0]["text"]
    ticket = service.get(f"/tickets/{ref}").json()
    assert ticket["kind"] == "repair" and ticket["purchase_date"] == "2026-11-01"
    assert ticket["preferred_time"] == "明天上午" and ticket["serial_number"] is None


@pytest.mark.parametrize(
    ("slot", "value", "clean", "message"),
    [
        ("phone", "138 0013 8000", "13800138000", None),
        ("phone", "12345", None, "号码好像不对"),
        ("occurred_on", "上周一", "2026-11-16", None),
        ("occurred_on", "明天", None, "日期"),
        ("complaint_details", "a", None, "多说一点"),
    ],
)
async def test_complaint_validation(slot, value, clean, message, monkeypatch):
    monkeypatch.setattr(settings_module.Settings, "today", lambda self: date(2026, 11, 25))
    validator = ValidateComplaintForm()
    t = tracker(slots={slot: value}, text=value, form="complaint_form", requested=slot)
    method = getattr(validator, f"validate_{slot}")
    dispatcher = CollectingDispatcher()
    result = method(value, dispatcher, t, {})
    assert result[slot] == clean
    if message:
        assert message in dispatcher.messages[0]["text"]
    else:
        assert dispatcher.messages == []


async def test_the_opening_message_is_kept_as_the_description():
    t = tracker(text="我上周买的洗衣机漏水很严重，地板都泡了，我要投诉", intent="file_complaint")
    found = await ValidateComplaintForm().extract_complaint_details(CollectingDispatcher(), t, {})
    assert found == {"complaint_details": t.latest_message["text"]}
    short = tracker(text="我要投诉", intent="file_complaint")
    assert await ValidateComplaintForm().extract_complaint_details(None, short, {}) == {}


async def test_service_validation_accepts_none_for_the_serial():
    result = ValidateServiceForm().validate_serial_or_order(
        "没有", CollectingDispatcher(), None, {}
    )
    assert result == {"serial_or_order": "-"}


@pytest.mark.parametrize(
    ("tagged", "kept"),
    [
        ("replacement", "replacement"),
        (["replacement", "pixel"], "replacement"),  # "a dead pixel line": a false tag
        (["pixel", "repair"], "repair"),
        ("pixel", None),  # none of the four: the form asks
    ],
)
async def test_service_validation_keeps_only_the_four_kinds(tagged, kept):
    domain = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text(encoding="utf-8"))
    result = ValidateServiceForm().validate_service_type(
        tagged, CollectingDispatcher(), None, domain
    )
    assert result == {"service_type": kept}
