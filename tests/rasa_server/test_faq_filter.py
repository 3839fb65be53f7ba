"""FaqQuestionFilter: a statement the model took for an FAQ gets the next intent."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_filter import FaqQuestionFilter, asks


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("保修期多长时间", True),
        ("上门费收不收？", True),
        ("how long is the warranty", True),
        ("保修期", True),  # a short keyword query
        ("visit fee", True),
        ("after sales hotline number", True),
        ("掉地上摔坏的管不管保", True),  # A-not-A
        ("保修是保零件还是保人工", True),  # A or B
        ("保修时间从哪天算起", True),
        ("no receipt, can I still claim warranty", True),  # a question opening a clause
        ("if I opened it myself is it still covered", True),
        ("roughly how much to fix a washer out of warranty", True),
        ("roughly what will the repair cost me", True),
        ("师傅施工的时候把卫生间的瓷砖打裂了", False),
        ("你们售后电话永远打不通", False),  # 打不通 is no A-not-A
        ("修完以后洗衣机还是一直漏水", False),  # 还是: still
        ("it's still under warranty, I need a repair", False),
        ("要求安装公司书面道歉并赔偿", False),
        ("the fault came back the same evening", False),
    ],
)
def test_questions_and_statements(text, question):
    assert asks(text) is question


def parsed(text: str, ranking: list[tuple[str, float]]) -> Message:
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={"text": text, "intent": intents[0], "intent_ranking": intents})


def run(message: Message) -> Message:
    (result,) = FaqQuestionFilter(FaqQuestionFilter.get_default_config()).process([message])
    return result


def test_a_statement_gets_the_next_intent():
    message = run(
        parsed("师傅施工的时候把卫生间的瓷砖打裂了", [("faq", 0.97), ("file_complaint", 0.02)])
    )
    assert message.get("intent") == {"name": "file_complaint", "confidence": 0.02}
    assert [i["name"] for i in message.get("intent_ranking")] == ["file_complaint", "faq"]


def test_a_question_stays_an_faq():
    message = run(parsed("保修期多长时间", [("faq", 0.97), ("inform", 0.02)]))
    assert message.get("intent")["name"] == "faq"


def test_other_intents_are_left_alone():
    message = run(parsed("the fault came back", [("file_complaint", 0.9), ("faq", 0.1)]))
    assert message.get("intent")["name"] == "file_complaint"
