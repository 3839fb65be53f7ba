"""What several actions share: who is writing (channel identity), their language,
customer-facing names and times, and the replies for an unreachable API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker

from actions.backend import idempotency_key
from actions.settings import Settings

CHANNELS = ("web", "telegram", "wecom", "phone", "email")


def channel_identity(tracker: Tracker) -> tuple[str, str]:
    """The gateway names each Rasa conversation `<channel>:<the customer's id there>`;
    any other sender id (e.g. Rasa's REST channel used directly) counts as the web."""
    channel, sep, external_id = tracker.sender_id.partition(":")
    if sep and channel in CHANNELS and external_id:
        return channel, external_id
    return "web", tracker.sender_id


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("language") == "en" else "zh"


def turn_key(tracker: Tracker, purpose: str) -> str:
    """An idempotency key for `purpose` in this user turn: a re-run of the same action on
    the same message gives the same key, a new message a new one."""
    latest = tracker.latest_message or {}
    marker = latest.get("message_id") or ""
    if not marker:
        user_events = [e for e in tracker.events if e.get("event") == "user"]
        marker = str(user_events[-1].get("timestamp")) if user_events else ""
    return idempotency_key(tracker.sender_id, purpose, str(marker))


CATEGORY_NAMES = {
    "air_conditioner": ("空调", "air conditioner"),
    "washing_machine": ("洗衣机", "washing machine"),
    "refrigerator": ("冰箱", "refrigerator"),
    "water_heater": ("热水器", "water heater"),
    "tv": ("电视", "TV"),
    "range_hood": ("油烟机", "range hood"),
    "dishwasher": ("洗碗机", "dishwasher"),
    "water_purifier": ("净水器", "water purifier"),
}
KIND_NAMES = {
    "inquiry": ("咨询", "enquiry"),
    "complaint": ("投诉", "complaint"),
    "repair": ("维修", "repair"),
    "installation": ("安装", "installation"),
    "maintenance": ("保养", "maintenance"),
    "replacement": ("换货", "replacement"),
    "recall": ("召回", "recall"),
}
STATUS_NAMES = {
    "received": ("已收到", "received"),
    "acknowledged": ("已受理", "acknowledged"),
    "investigating": ("调查处理中", "under investigation"),
    "scheduled": ("已预约", "visit scheduled"),
    "in_progress": ("服务中", "in progress"),
    "resolved": ("已解决", "resolved"),
    "closed": ("已关闭", "closed"),
    "cancelled": ("已取消", "cancelled"),
}


def name_of(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str | None:
    """What the customer calls `key` in `lang`; an unknown key (or None) as it is."""
    if key not in table:
        return key
    zh, en = table[key]
    return en if lang == "en" else zh


def local_time(value: str | None, lang: str, settings: Settings) -> str:
    """An API timestamp (ISO 8601, UTC) as the customer's local date and time."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(settings.tz)
    if lang == "en":
        return moment.strftime("%d %b %Y %H:%M")
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def slots_summary(tracker: Tracker, names: list[str]) -> dict[str, Any]:
    return {name: tracker.get_slot(name) for name in names if tracker.get_slot(name) is not None}
