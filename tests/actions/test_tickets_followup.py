"""Status (with verification), feedback, recalls, handoff and call-back, against the API;
and what the customer is told when the API is down."""

import inspect

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.feedback import ActionSubmitFeedback
from actions.forms import (
    ActionCancelForm,
    ActionDeclineOffer,
    ValidateFeedbackForm,
    ValidateStatusForm,
)
from actions.handoff import (
    ActionAcceptAgentOffer,
    ActionFallback,
    ActionHandoff,
    ActionSubmitCallback,
)
from actions.recall import ActionRecallResult, ValidateRecallForm
from actions.service_requests import ActionSubmitComplaint
from actions.status import ActionShowStatus
from tests.actions.conftest import run, slot_values, tracker
from tests.actions.test_requests import COMPLAINT

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def complaint(sender: str) -> str:
    events, _ = await run(ActionSubmitComplaint(), tracker(slots=COMPLAINT, sender=sender))
    return slot_values(events)["ticket_ref"]


async def validate(validator, slot, value, t):
    dispatcher = CollectingDispatcher()
    result = getattr(validator, f"validate_{slot}")(value, dispatcher, t, {})
    if inspect.isawaitable(result):
        result = await result
    return result, dispatcher.messages


def stops_form(events) -> bool:
    return any(e["event"] == "active_loop" and e["name"] is None for e in events)


# --- status -------------------------------------------------------------------------------


async def test_the_same_channel_identity_needs_no_more_proof():
    ref = await complaint("wecom:wx-1")
    t = tracker(sender="wecom:wx-1", form="status_form", requested="ticket_ref")
    slots, _ = await validate(ValidateStatusForm(), "ticket_ref", ref.lower(), t)
    assert slots == {"ticket_ref": ref, "verified_ref": ref}
    verified = tracker(slots=slots, sender="wecom:wx-1", form="status_form")
    required = await ValidateStatusForm().required_slots(
        ["ticket_ref", "phone_last4"], CollectingDispatcher(), verified, {}
    )
    assert required == ["ticket_ref"]


async def test_someone_else_must_give_the_phone_digits():
    ref = await complaint("web:owner")
    t = tracker(sender="web:stranger", form="status_form")
    slots, _ = await validate(ValidateStatusForm(), "ticket_ref", ref, t)
    assert slots == {"ticket_ref": ref, "verified_ref": None}
    asked = tracker(slots=slots, sender="web:stranger", form="status_form")
    wrong, messages = await validate(ValidateStatusForm(), "phone_last4", "1234", asked)
    assert wrong["verification_failed"] is True and "不匹配" in messages[0]["text"]
    right, _ = await validate(ValidateStatusForm(), "phone_last4", "尾号8000", asked)
    assert right == {"phone_last4": "8000", "verified_ref": ref}


async def test_the_status_shows_state_next_step_and_history():
    ref = await complaint("web:status")
    t = tracker(slots={"ticket_ref": ref, "verified_ref": ref, "language": "en"})
    events, messages = await run(ActionShowStatus(), t)
    text = messages[0]["text"]
    assert ref in text and "Status: received" in text and "Next step:" in text
    assert "Recent history:" in text and "Due by:" in text
    assert slot_values(events)["verified_ref"] is None  # asked again next time


async def test_a_resolved_ticket_invites_a_rating(staff):
    ref = await complaint("web:resolved")
    await resolve(staff, ref)
    t = tracker(slots={"ticket_ref": ref, "verified_ref": ref})
    _, messages = await run(ActionShowStatus(), t)
    assert "已解决" in messages[0]["text"]
    assert messages[1]["buttons"][0]["payload"] == f'/give_feedback{{"ticket_ref": "{ref}"}}'


async def test_an_unverified_status_request_shows_nothing():
    ref = await complaint("web:someone")
    t = tracker(slots={"ticket_ref": ref, "verification_failed": True})
    _, messages = await run(ActionShowStatus(), t)
    assert messages == []


async def test_a_malformed_reference_is_asked_again():
    slots, messages = await validate(ValidateStatusForm(), "ticket_ref", "12345", tracker())
    assert slots == {"ticket_ref": None} and "CS-" in messages[0]["text"]


# --- feedback --------------------------------------------------------------------------------


async def resolve(staff, ref: str) -> None:
    for action in ("acknowledge", "investigate"):
        assert staff.post(f"/tickets/{ref}/transitions", json={"action": action}).is_success
    body = {"action": "resolve", "resolution": "已更换脱水电机 / drain motor replaced"}
    assert staff.post(f"/tickets/{ref}/transitions", json=body).is_success


async def test_a_rating_before_resolution_is_refused_politely():
    ref = await complaint("web:early")
    t = tracker(slots={"verified_ref": ref, "ticket_ref": ref, "rating": "5"})
    _, messages = await run(ActionSubmitFeedback(), t)
    assert "还没有处理完成" in messages[0]["text"]


async def test_a_good_rating_lands_on_the_ticket(service, staff):
    ref = await complaint("web:happy")
    await resolve(staff, ref)
    slots = {"verified_ref": ref, "ticket_ref": ref, "rating": "5", "feedback_comment": "很快"}
    _, messages = await run(ActionSubmitFeedback(), tracker(slots=slots))
    assert "感谢您的评价" in messages[0]["text"]
    feedback = service.get(f"/tickets/{ref}").json()["feedback"]
    assert feedback["rating"] == 5 and feedback["comment"] == "很快"
    _, again = await run(ActionSubmitFeedback(), tracker(slots=slots))
    assert "已经评价过" in again[0]["text"]


async def test_a_low_rating_apologises_reopens_and_offers_a_human(service, staff):
    ref = await complaint("web:unhappy")
    await resolve(staff, ref)
    slots = {"verified_ref": ref, "ticket_ref": ref, "rating": "1", "language": "en"}
    events, messages = await run(ActionSubmitFeedback(), tracker(slots=slots))
    assert "sorry" in messages[0]["text"] and "reopened" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert service.get(f"/tickets/{ref}").json()["status"] != "resolved"
    assert slot_values(events)["feedback_outcome"] == "unhappy"  # a "yes" now hands off


async def test_declining_an_offer_forgets_it():
    offered = tracker(slots={"feedback_outcome": "unhappy"})
    events, messages = await run(ActionDeclineOffer(), offered)
    assert slot_values(events) == {"feedback_outcome": None, "handoff_outcome": None}
    assert messages[0]["response"] == "utter_anything_else"


async def test_yes_to_the_agent_after_a_low_rating_hands_off(service):
    t = tracker(
        text="yes", intent="affirm", slots={"feedback_outcome": "unhappy"}, sender="web:low"
    )
    events, _ = await run(ActionAcceptAgentOffer(), t)
    assert slot_values(events) == {"handoff_outcome": "no_agent", "feedback_outcome": None}


async def test_rating_validation():
    v = ValidateFeedbackForm()
    assert (await validate(v, "rating", "五星", tracker()))[0] == {"rating": "5"}
    slots, messages = await validate(v, "rating", "great", tracker())
    assert slots == {"rating": None} and "1 到 5" in messages[0]["text"]
    split = tracker(text="2 out of 5")  # the model may give two entities, "2" and "5"
    assert (await validate(v, "rating", "5", split))[0] == {"rating": "2"}


# --- recall ------------------------------------------------------------------------------------


async def test_a_unit_in_the_recall_range_is_told_and_gets_a_recall_order(service):
    v = ValidateRecallForm()
    model_slots, _ = await validate(v, "product_model", "jsq25-13wh", tracker())
    assert model_slots == {"product_model": "JSQ25-13WH"}  # the serial decides
    t = tracker(slots=model_slots, form="recall_form")
    serial_slots, messages = await validate(v, "recall_serial", "序列号：GW13-2404-00321", t)
    assert serial_slots == {"recall_serial": "GW13-2404-00321", "recall_affected": True}
    assert "RC-2026-001" in messages[0]["text"] and "点火控制器" in messages[0]["text"]
    required = await v.required_slots([], None, tracker(slots={**model_slots, **serial_slots}), {})
    assert required == ["product_model", "phone"]
    slots = {**model_slots, **serial_slots, "phone": "13800138000"}
    _, done = await run(ActionRecallResult(), tracker(slots=slots, sender="web:recall"))
    ref = done[0]["text"].split("召回服务单 ")[1].split("，")[0]
    ticket = service.get(f"/tickets/{ref}").json()
    assert ticket["kind"] == "recall" and ticket["serial_number"] == "GW13-2404-00321"


async def test_a_unit_outside_the_recall_is_reassured():
    v = ValidateRecallForm()
    t = tracker(slots={"product_model": "JSQ25-13WH"}, form="recall_form", language="en")
    serial_slots, messages = await validate(v, "recall_serial", "GW13-2501-00001", t)
    assert serial_slots["recall_affected"] is False and messages == []
    slots = {"product_model": "JSQ25-13WH", **serial_slots, "language": "en"}
    _, done = await run(ActionRecallResult(), tracker(slots=slots))
    assert "not affected" in done[0]["text"]


async def test_an_answer_without_a_serial_is_asked_again_not_reassured(service):
    v = ValidateRecallForm()
    for answer, lang, said in (
        ("不知道", "zh", "序列号"),
        ("12306客服电话多少", "zh", "转人工"),
        ("no idea, sorry", "en", "serial number"),
    ):
        t = tracker(slots={"product_model": "JSQ25-13WH"}, form="recall_form", language=lang)
        slots, messages = await validate(v, "recall_serial", answer, t)
        assert slots == {"recall_serial": None}  # no recall_affected: nothing was decided
        assert said in messages[0]["text"]


async def test_an_unknown_model_is_asked_again():
    slots, messages = await validate(ValidateRecallForm(), "product_model", "ABC-0000", tracker())
    assert slots == {"product_model": None} and "ABC-0000" in messages[0]["text"]


async def test_a_model_with_no_campaign_needs_no_serial():
    slots, _ = await validate(ValidateRecallForm(), "product_model", "KFR-35GW", tracker())
    assert slots == {"product_model": "KFR-35GW", "recall_affected": False, "recall_serial": "-"}


# --- handoff and call-back ----------------------------------------------------------------------


async def test_no_agent_online_offers_a_call_back(service):
    t = tracker(text="转人工", intent="request_human", sender="web:alone")
    events, messages = await run(ActionHandoff(), t)
    assert slot_values(events) == {"handoff_outcome": "no_agent"}
    assert "没有人工客服在线" in messages[0]["text"]
    conversation = service.get("/conversations/by-channel/web/alone").json()
    assert conversation["mode"] == "bot"  # back with the bot, which offers the call-back
    callback = tracker(slots={"phone": "13800138000"}, sender="web:alone", message_id="m2")
    events, messages = await run(ActionSubmitCallback(), callback)
    ref = messages[0]["text"].split("工单号 ")[1].split("，")[0]
    assert service.get(f"/tickets/{ref}").json()["kind"] == "inquiry"
    assert slot_values(events)["handoff_outcome"] is None


async def test_with_an_agent_online_the_conversation_is_queued(service, staff):
    staff.put("/staff/me/availability", json={"available": True}).raise_for_status()
    try:
        t = tracker(
            slots={"product": "洗衣机"},
            text="I want a human",
            intent="request_human",
            sender="telegram:777",
            form="complaint_form",
        )
        events, _ = await run(ActionHandoff(), t)
    finally:
        staff.put("/staff/me/availability", json={"available": False})
    assert slot_values(events)["handoff_outcome"] == "queued"
    assert stops_form(events)  # the form stops
    conversation = service.get("/conversations/by-channel/telegram/777").json()
    assert (
        conversation["mode"] == "waiting" and conversation["handoff_reason"] == "customer_request"
    )
    assert conversation["summary"]["slots"]["product"] == "洗衣机"


async def test_the_second_misunderstanding_in_a_row_hands_off():
    miss = {"event": "user", "text": "blah", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    once = tracker(events=[miss])
    _, messages = await run(ActionFallback(), once)
    assert messages[0]["response"] == "utter_rephrase"
    twice = tracker(events=[miss, {"event": "bot"}, miss], sender="web:confused")
    events, _ = await run(ActionFallback(), twice)
    assert slot_values(events)["handoff_outcome"] in ("no_agent", "queued")


async def test_out_of_scope_says_what_the_bot_can_do_and_counts_as_not_helped():
    odd = {
        "event": "user",
        "text": "tell me a joke",
        "parse_data": {"intent": {"name": "out_of_scope"}},
    }
    _, messages = await run(ActionFallback(), tracker(events=[odd], language="en"))
    assert "can't help with that" in messages[0]["text"]
    miss = {"event": "user", "text": "jdksl", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    twice = tracker(events=[odd, {"event": "bot"}, miss], sender="web:odd")
    events, _ = await run(ActionFallback(), twice)
    assert slot_values(events)["handoff_outcome"] in ("no_agent", "queued")


async def test_a_message_not_understood_is_listed_for_training(staff):
    t = tracker(text="how much is a bitcoin today", intent="nlu_fallback", language="en",
                sender="telegram:tg-unrecognised")  # fmt: skip
    t.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "faq", "confidence": 0.44},
        {"name": "out_of_scope", "confidence": 0.31},
    ]
    _, messages = await run(ActionFallback(), t)
    assert messages[0]["response"] == "utter_rephrase"
    report = staff.get("/reports/unrecognised")
    assert report.status_code == 200, report.text
    listed = report.json()["groups"]
    (group,) = [g for g in listed if g["text"] == "how much is a bitcoin today"]
    assert group == group | {"reason": "not_understood", "intent": "faq", "confidence": 0.44,
                             "language": "en", "count": 1}  # fmt: skip


async def test_cancel_forgets_the_form():
    t = tracker(slots={"product": "冰箱"}, form="complaint_form")
    events, messages = await run(ActionCancelForm(), t)
    assert stops_form(events)
    assert slot_values(events)["product"] is None and "已取消" in messages[0]["text"]


# --- the API is down -----------------------------------------------------------------------------


async def test_api_down_nothing_is_claimed_as_recorded(api_down):
    _, messages = await run(ActionSubmitComplaint(), tracker(slots=COMPLAINT))
    assert "没有**被记录" in messages[0]["text"] and "400-800-1234" in messages[0]["text"]
    events, messages = await run(ActionHandoff(), tracker(slots={"language": "en"}))
    assert slot_values(events) == {"handoff_outcome": "failed"}
    assert "hotline" in messages[0]["text"]
    slots, messages = await validate(
        ValidateStatusForm(), "ticket_ref", "CS-20261124-0007", tracker()
    )
    assert slots["verification_failed"] is True and "NOT" not in messages[0]["text"]
    # the list for training is best effort: the customer still gets the reply
    _, messages = await run(ActionFallback(), tracker(text="qwpeoiru", intent="nlu_fallback"))
    assert messages[0]["response"] == "utter_rephrase"
