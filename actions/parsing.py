"""Reading what customers type: phones, ticket references, ratings, dates, "none".

Pure functions, no I/O: the form validators use them and the tests call them directly.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

import dateparser

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    return text.translate(_FULL_WIDTH)


# --- phone numbers --------------------------------------------------------------------

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_phone(text: str) -> str | None:
    """A Chinese mobile number (`13800138000`, `+86 138-0013-8000`) → `13800138000`;
    any other number with its country code → E.164 (`+442079460958`); else None."""
    raw = re.sub(r"[\s\-().]", "", fold_width(text))
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+86"):
        raw = raw[3:]
    if _CN_MOBILE.match(raw):
        return raw
    if _E164.match(raw):
        return raw
    return None


def find_phone(text: str) -> str | None:
    """The first phone number inside a longer message ("我的电话是138 0013 8000")."""
    for match in re.finditer(r"\+?[\d][\d\s\-()]{6,20}\d", fold_width(text)):
        phone = normalise_phone(match.group())
        if phone:
            return phone
    return None


# --- ticket references ------------------------------------------------------------------

_REF = re.compile(r"cs\s*-?\s*(\d{8})\s*-?\s*(\d{4,})", re.IGNORECASE)


def find_ticket_ref(text: str) -> str | None:
    match = _REF.search(fold_width(text or ""))
    return f"CS-{match.group(1)}-{match.group(2)}" if match else None


def find_last4(text: str) -> str | None:
    digits = re.findall(r"\d", fold_width(text or ""))
    return "".join(digits) if len(digits) == 4 else None


# --- ratings ------------------------------------------------------------------------------

_NUMERALS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def parse_rating(text: str) -> int | None:
    """1–5 from "5", "五星", "4分", "five", "★★★★"; None when absent or out of range."""
    text = fold_width(str(text or "")).strip().lower()
    stars = text.count("★") or text.count("⭐")
    if stars:
        return stars if 1 <= stars <= 5 else None
    match = re.search(r"\d+", text)
    if match:
        value = int(match.group())
    else:
        value = next((n for w, n in _RATING_WORDS.items() if re.search(rf"\b{w}\b", text)), 0)
        zh = re.search(r"^([一二两三四五])$|([一二两三四五])\s*(?:星|分|颗星)", text)
        value = value or (_NUMERALS[zh.group(1) or zh.group(2)] if zh else 0)
    return value if 1 <= value <= 5 else None


# --- "nothing to add" -----------------------------------------------------------------------

_NONE = re.compile(
    r"^(没有|没|无|不知道|不清楚|忘了|找不到|没有了|不用了|none|no|nope|n/?a|nothing|"
    r"don'?t know|not sure|no idea|i don'?t have (it|one))[。.!！\s]*$",
    re.IGNORECASE,
)


def says_none(text: str) -> bool:
    return bool(_NONE.match(fold_width(text or "").strip()))


# --- dates ----------------------------------------------------------------------------------

_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


_TODAY = re.compile(
    r"^(?:今天|今日|今早|今晚|刚才|刚刚)|^今天?(?:早上|上午|中午|下午|晚上)|"
    r"\b(?:today|this (?:morning|afternoon|evening)|tonight|just now)\b"
)
# the shopping festivals customers date their purchases by: 双十一 (11 Nov) and the like
_SHOPPING_DAYS = {"双十一": (11, 11), "双11": (11, 11), "双十二": (12, 12), "双12": (12, 12),
                  "618": (6, 18)}  # fmt: skip
_YEARS_BACK = {"今年": 0, "去年": 1, "前年": 2}
# what customers add around a date: "it happened yesterday evening", "去年10月左右买的"
_FILLER = re.compile(
    r"^(?:it\s+(?:happened|was|started|began)|happened|since|about|around|roughly|maybe)\s+|"
    r"\s*\b(?:in\s+the\s+)?(?:morning|afternoon|evening|night)\b|"
    r"(?<=[天日号])(?:早上|上午|中午|下午|晚上|凌晨|傍晚|夜里)|"
    r"左右|前后|大概|大约|差不多|的时候|买的|发生的|开始的|坏的|[。.!！]+$",
    re.IGNORECASE,
)
_SHOPPING_DAY = re.compile(r"(今年|去年|前年)?的?(双十一|双11|双十二|双12|618)")


def _zh_number(text: str) -> str:
    """Chinese numerals up to 99 → digits ("十五" → "15", "两" → "2")."""

    def convert(match: re.Match[str]) -> str:
        s = match.group()
        if "十" in s:
            tens, _, ones = s.partition("十")
            return str((_NUMERALS.get(tens, 1) if tens else 1) * 10 + _NUMERALS.get(ones, 0))
        return str(_NUMERALS[s])

    return re.sub(
        r"[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九]", convert, text
    )


def _shift_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def parse_past_date(text: str, today: date) -> date | None:
    """A date on or before `today` from what a customer writes in Chinese or English:
    absolute ("2026年3月5日", "5 March 2026", "10月3日") or relative ("上个月", "上周一",
    "三天前", "大前天", "半年前", "last Monday", "2 weeks ago"). None if unreadable or future."""
    text = fold_width(text or "").strip()
    if _TODAY.search(text.lower()):
        return today
    text = _FILLER.sub("", text).strip()
    if not text:
        return None
    lowered = text.lower()
    found: date | None = None
    if "大前天" in text:
        found = today - timedelta(days=3)
    elif m := _SHOPPING_DAY.search(text):
        year = _YEARS_BACK.get(m.group(1), 0)
        month, day = _SHOPPING_DAYS[m.group(2)]
        found = date(today.year - year, month, day)
        if not m.group(1) and found > today:
            found = found.replace(year=found.year - 1)
    elif "半年前" in text:
        found = _shift_months(today, 6)
    elif m := re.search(r"上(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])", text):
        monday = today - timedelta(days=today.weekday() + 7)
        found = monday + timedelta(days=_WEEKDAYS_ZH[m.group(1)])
    elif m := re.search(r"last\s+(" + "|".join(_WEEKDAYS_EN) + ")", lowered):
        back = (today.weekday() - _WEEKDAYS_EN.index(m.group(1))) % 7 or 7
        found = today - timedelta(days=back)
    elif m := re.search(r"上(?:个)?月(\d+|[一二三四五六七八九十]+)[日号]", text):
        day = int(_zh_number(m.group(1)))
        previous = _shift_months(today.replace(day=1), 1)
        if 1 <= day <= calendar.monthrange(previous.year, previous.month)[1]:
            found = previous.replace(day=day)
    elif m := re.fullmatch(
        r"(?:(\d{4})年|(今年|去年|前年))?(\d{1,2})月份?(?:(\d{1,2})[日号]?)?", _zh_number(text)
    ):
        # "10月3日", "2026年3月5日", "去年10月" (a month alone: its first day)
        year = int(m.group(1)) if m.group(1) else today.year - _YEARS_BACK.get(m.group(2), 0)
        try:
            found = date(year, int(m.group(3)), int(m.group(4) or 1))
        except ValueError:
            return None
        if not (m.group(1) or m.group(2)) and found > today:
            found = found.replace(year=year - 1)
    if found is None:
        parsed = dateparser.parse(
            _zh_number(text),
            languages=["zh", "en"],
            settings={
                "PREFER_DATES_FROM": "past",
                "RELATIVE_BASE": _midday(today),
                "DATE_ORDER": "YMD" if re.match(r"\d{4}", text) else "DMY",
            },
        )
        found = parsed.date() if parsed else None
    return found if found is not None and found <= today else None


def _midday(day: date):
    from datetime import datetime

    return datetime(day.year, day.month, day.day, 12)


# --- does a request say what happened? -------------------------------------------------------

# how customers ask to complain, without saying about what
_STOCK_PHRASES = re.compile(
    r"我(?:要|想)?(?:投诉|反映|反馈)(?:一下)?|你们的?(?:售后|客服|服务)?|投诉|"
    r"\b(?:i(?:'d| would)? (?:like|want|wish|need) to|i'm|i am|i have to|let me)?\s*"
    r"(?:make|file|lodge|raise|submit|register)?\s*(?:a\s+)?(?:formal\s+)?"
    r"(?:complain(?:t|ing)?)(?:\s+about)?(?:\s+your)?(?:\s+(?:after[- ]?sales|service|company))?",
    re.IGNORECASE,
)


def describes_problem(text: str) -> bool:
    """Whether the message that opened a complaint also says what happened: what is left
    after the stock phrases ("我要投诉", "I'd like to make a complaint about your service")
    has at least 6 Chinese characters or 4 words."""
    rest = _STOCK_PHRASES.sub(" ", fold_width(text or ""))
    han = sum(1 for c in rest if "\u4e00" <= c <= "\u9fff")
    return han >= 6 or len(re.findall(r"[A-Za-z]+", rest)) >= 4


# --- product models, serials, batches --------------------------------------------------------

_CODE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def find_code(text: str) -> str | None:
    """A product code in the text — a model ("KFR-35GW", "xqg100-b14"), a serial
    ("序列号GW13-2404-00458") or a batch ("batch 2026W18") — upper-cased: letters and
    digits (hyphens allowed), at least four characters, not a ticket ref."""
    for code in _CODE.findall(fold_width(text or "")):
        if (
            len(code) >= 4
            and re.search(r"\d", code)
            and re.search(r"[A-Za-z]", code)
            and not _REF.fullmatch(code)
        ):
            return code.upper()
    return None
