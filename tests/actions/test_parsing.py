"""What customers type → clean values (phones, references, ratings, dates, models)."""

from datetime import date

import pytest

from actions import parsing
from actions.language import detect

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 139 1234 5678", "13912345678"),
        ("１３８００１３８０００", "13800138000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("12800138000", None),  # no Chinese mobile starts with 12
        ("1380013800", None),  # ten digits
        ("020 7946 0958", None),  # a foreign number without its country code
        ("call me", None),
    ],
)
def test_phone_numbers(text, phone):
    assert parsing.normalise_phone(text) == phone


def test_phone_inside_a_sentence():
    assert parsing.find_phone("我的电话是 138 0013 8000，谢谢") == "13800138000"
    assert parsing.find_phone("my number is +44 20 7946 0958 thanks") == "+442079460958"
    assert parsing.find_phone("订单 2026") is None


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("查一下 cs-20261124-0007", "CS-20261124-0007"),
        ("ＣＳ－２０２６１１２４－０００７", "CS-20261124-0007"),
        ("CS 20261124 0012 please", "CS-20261124-0012"),
        ("20261124-0007", None),
    ],
)
def test_ticket_references(text, ref):
    assert parsing.find_ticket_ref(text) == ref


@pytest.mark.parametrize(
    ("text", "rating"),
    [("5", 5), ("五星", 5), ("给4分", 4), ("five stars", 5), ("★★★", 3), ("一星差评", 1),
     ("三", 3), ("一般", None), ("0", None), ("9", None), ("good", None)],
)  # fmt: skip
def test_ratings(text, rating):
    assert parsing.parse_rating(text) == rating


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("昨天", date(2026, 11, 24)),
        ("大前天", date(2026, 11, 22)),
        ("今天早上", TODAY),
        ("刚刚", TODAY),
        ("this morning", TODAY),
        ("it happened this morning", TODAY),
        ("yesterday evening", date(2026, 11, 24)),
        ("昨天晚上", date(2026, 11, 24)),
        ("去年10月买的", date(2025, 10, 1)),  # a month alone: its first day
        ("12月", date(2025, 12, 1)),
        ("去年双十一买的", date(2025, 11, 11)),
        ("双十一", date(2026, 11, 11)),
        ("双十二", date(2025, 12, 12)),  # this year's is still to come
        ("三天前", date(2026, 11, 22)),
        ("上周一", date(2026, 11, 16)),
        ("上个月15号", date(2026, 10, 15)),
        ("上个月", date(2026, 10, 25)),
        ("半年前", date(2026, 5, 25)),
        ("10月3日", date(2026, 10, 3)),
        ("12月25日", date(2025, 12, 25)),  # no year, not yet this year: last year's
        ("十月三号", date(2026, 10, 3)),
        ("2026年3月5日", date(2026, 3, 5)),
        ("last Monday", date(2026, 11, 23)),
        ("yesterday", date(2026, 11, 24)),
        ("2 weeks ago", date(2026, 11, 11)),
        ("5 March 2026", date(2026, 3, 5)),
        ("2026-10-03", date(2026, 10, 3)),
        ("明天", None),  # the future is refused
        ("whenever", None),
    ],
)
def test_past_dates(text, day):
    assert parsing.parse_past_date(text, TODAY) == day


@pytest.mark.parametrize(
    ("text", "model"),
    [("我的KFR-35GW空调", "KFR-35GW"), ("65e3n电视", "65E3N"), ("xqg100-b14", "XQG100-B14"),
     ("CS-20261124-0007", None), ("my washer", None), ("2026年", None),
     ("序列号GW13-2404-00458", "GW13-2404-00458"), ("batch 2026w18", "2026W18")],
)  # fmt: skip
def test_codes(text, model):
    assert parsing.find_code(text) == model


@pytest.mark.parametrize("text", ["没有", "不知道", "none", "N/A", "don't know", "no."])
def test_says_none(text):
    assert parsing.says_none(text)


@pytest.mark.parametrize(
    ("text", "current", "language"),
    [
        ("你好", None, "zh"),
        ("hello there", None, "en"),
        ("hi", None, "en"),
        ("ok", "zh", "zh"),  # one English word does not switch a Chinese conversation
        ("my washing machine leaks", "zh", "en"),
        ("我的KFR-35GW空调坏了", "en", "zh"),
        ("repair 洗衣机", None, "zh"),
        ("please fix my 空调 it is broken", "zh", "en"),
        ("13800138000", "en", "en"),  # numbers say nothing
        ("CS-20261124-0007", "zh", "zh"),
        ('/give_feedback{"rating":"5"}', "en", "en"),  # a button payload
    ],
)
def test_language_follows_the_customer(text, current, language):
    assert detect(text, current) == language


@pytest.mark.parametrize(
    ("text", "says_what_happened"),
    [
        ("我要投诉", False),
        ("我要投诉你们的售后", False),
        ("I want to file a complaint", False),
        ("I'd like to make a complaint about your after sales", False),
        ("我要投诉，上周买的洗衣机漏水很严重，地板都泡了", True),
        ("空调坏了三次了修不好，我要投诉", True),
        ("I want to complain, my fridge stopped cooling after two weeks", True),
        ("your technician was incredibly rude", True),
    ],
)
def test_an_opening_that_says_what_happened_is_kept(text, says_what_happened):
    assert parsing.describes_problem(text) is says_what_happened
