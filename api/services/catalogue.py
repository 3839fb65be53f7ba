"""Product catalogue, warranty / 三包 eligibility and recall campaigns (S7.1, S8.3).

Periods are data on the `Product` row and are counted like this (S7.1):

- Day periods (`return_days`, `exchange_days`) count whole days from the purchase
  date, which is day 0. "Within 7 days" means `today - purchase_date <= 7 days`, so a
  purchase on 1 March may be returned up to and including 8 March.
- Month periods (`repair_months`, `warranty_months`) end on the same day of the month
  N calendar months later, clamped to the month's last day (31 Jan + 1 month = 28/29
  Feb), and that end day is still covered.
- The periods nest: return ⊆ exchange ⊆ free repair ⊆ warranty. Each is enforced when a
  product is written. `repair_months` is the statutory 三包 whole-unit free-repair
  period; `warranty_months` is the manufacturer's warranty, which may be longer.

Model codes are matched ignoring case, spaces and hyphens ("kfr35gw" finds "KFR-35GW").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.actor import Actor
from api.errors import Conflict, Invalid, NotFound
from api.models import Product, RecallCampaign
from api.schemas.products import EligibilityOut
from api.services import audit

PRODUCT_FIELDS = (
    "name_zh",
    "name_en",
    "category",
    "warranty_months",
    "return_days",
    "exchange_days",
    "repair_months",
)
CAMPAIGN_TEXTS = ("hazard_zh", "hazard_en", "remedy_zh", "remedy_en", "notice_zh", "notice_en")

_SEPARATORS = re.compile(r"[\s\-]+")
_TRAILING_DIGITS = re.compile(r"(.*?)(\d*)")


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def normalise_code(code: str) -> str:
    """Upper case without spaces or hyphens: how model codes, serials and batches compare."""
    return _SEPARATORS.sub("", code).upper()


# --- products ---------------------------------------------------------------------------


def find_product(session: Session, model: str) -> Product | None:
    stored = func.upper(func.replace(func.replace(Product.model, "-", ""), " ", ""))
    return session.scalar(select(Product).where(stored == normalise_code(model)))


def get_product(session: Session, model: str) -> Product:
    product = find_product(session, model)
    if product is None:
        raise NotFound(f"unknown product model {model.strip()!r}: check the model on the nameplate")
    return product


def list_products(session: Session, category: str | None = None) -> list[Product]:
    query = select(Product).order_by(Product.category, Product.model)
    if category:
        query = query.where(Product.category == category)
    return list(session.scalars(query))


def _check_periods(fields: dict[str, Any]) -> None:
    """The 三包 periods must nest: return ⊆ exchange ⊆ free repair ⊆ warranty (S7.1)."""
    if fields["return_days"] > fields["exchange_days"]:
        raise Invalid("return_days may not exceed exchange_days (returnable means exchangeable)")
    # every calendar month has at least 28 days, so this keeps the exchange period inside
    # the free-repair period whatever the purchase date
    if fields["exchange_days"] > 28 * fields["repair_months"]:
        raise Invalid("the exchange period must lie within the free-repair period (repair_months)")
    if fields["repair_months"] > fields["warranty_months"]:
        raise Invalid("repair_months may not exceed warranty_months")


def _commit(session: Session, conflict: str) -> None:
    """Commit; a unique constraint lost to a concurrent writer becomes a 409."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(conflict) from exc


def create_product(session: Session, actor: Actor, model: str, fields: dict[str, Any]) -> Product:
    model = model.strip()
    existing = find_product(session, model)
    if existing is not None:
        raise Conflict(f"product model {existing.model!r} already exists")
    fields = {name: fields[name] for name in PRODUCT_FIELDS}
    _check_periods(fields)
    product = Product(model=model, **fields)
    session.add(product)
    audit.record(session, actor, "product_created", product, data={"model": model, **fields})
    _commit(session, f"product model {model!r} already exists")
    return product


def update_product(session: Session, actor: Actor, model: str, fields: dict[str, Any]) -> Product:
    """Replace the editable fields of a product (the model code itself never changes)."""
    product = get_product(session, model)
    _check_periods(fields)
    changes = {
        name: [getattr(product, name), fields[name]]
        for name in PRODUCT_FIELDS
        if getattr(product, name) != fields[name]
    }
    if changes:
        for name, (_old, new) in changes.items():
            setattr(product, name, new)
        audit.record(
            session,
            actor,
            "product_updated",
            product,
            data={"model": product.model, "changes": changes},
        )
        session.commit()
    return product


# --- warranty / 三包 eligibility ---------------------------------------------------------


def _zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _summaries(product: Product, e: dict[str, Any]) -> tuple[str, str]:
    """One customer-facing sentence in each language, for the strongest right that holds."""
    p = e["purchase_date"]
    zh = f"您的{product.name_zh}（{product.model}）购买于{_zh(p)}，"
    en = f"Your {product.name_en} ({product.model}), bought on {p.isoformat()}, "
    w_zh, w_en = _zh(e["warranty_until"]), e["warranty_until"].isoformat()
    if e["return_eligible"]:
        until = e["return_until"]
        zh += f"{_zh(until)}前（含当日）可退货、换货或免费维修，保修至{w_zh}。"
        en += (
            f"can be returned, exchanged or repaired free of charge until {until.isoformat()} "
            f"inclusive; the warranty runs until {w_en}."
        )
    elif e["exchange_eligible"]:
        until = e["exchange_until"]
        zh += f"退货期已过，{_zh(until)}前（含当日）可换货或免费维修，保修至{w_zh}。"
        en += (
            f"can no longer be returned but can be exchanged or repaired free of charge until "
            f"{until.isoformat()} inclusive; the warranty runs until {w_en}."
        )
    elif e["free_repair"]:
        until = e["free_repair_until"]
        zh += f"退换货期已过，{_zh(until)}前（含当日）可免费维修，保修至{w_zh}。"
        en += (
            f"is past the return and exchange periods but is repaired free of charge until "
            f"{until.isoformat()} inclusive; the warranty runs until {w_en}."
        )
    elif e["in_warranty"]:
        zh += f"已过三包免费包修期，仍在厂家保修期内（至{w_zh}，含当日），按保修条款维修。"
        en += (
            f"is past the statutory free-repair period but under the manufacturer's warranty "
            f"until {w_en} inclusive; repairs follow the warranty terms."
        )
    else:
        zh += f"保修期已于{w_zh}结束，我们可为您安排付费维修。"
        en += f"is out of warranty (it ended on {w_en}); we can arrange a paid repair."
    return zh, en


def check_eligibility(
    session: Session, model: str, purchase_date: date, today: date
) -> EligibilityOut:
    """Which 三包 rights hold `today` for a unit bought on `purchase_date` (S7.1).

    Every `*_until` date is the last day still covered (see the module docstring).
    """
    product = get_product(session, model)
    if purchase_date > today:
        raise Invalid(f"purchase_date {purchase_date.isoformat()} is in the future")
    days = (today - purchase_date).days
    e: dict[str, Any] = {
        "model": product.model,
        "purchase_date": purchase_date,
        "days_since_purchase": days,
        "return_until": purchase_date + timedelta(days=product.return_days),
        "exchange_until": purchase_date + timedelta(days=product.exchange_days),
        "free_repair_until": add_months(purchase_date, product.repair_months),
        "warranty_until": add_months(purchase_date, product.warranty_months),
    }
    e["return_eligible"] = days <= product.return_days
    e["exchange_eligible"] = days <= product.exchange_days
    e["free_repair"] = today <= e["free_repair_until"]
    e["in_warranty"] = today <= e["warranty_until"]
    e["summary_zh"], e["summary_en"] = _summaries(product, e)
    return EligibilityOut(**e)


# --- recall campaigns -------------------------------------------------------------------


def _serial_key(serial: str) -> tuple[str, int, int]:
    """(prefix, number of trailing digits, their value) of a normalised serial."""
    match = _TRAILING_DIGITS.fullmatch(normalise_code(serial))
    assert match is not None  # the pattern matches every string
    prefix, digits = match.groups()
    return prefix, len(digits), int(digits or 0)


def serial_in_range(serial: str, lo: str, hi: str) -> bool:
    """Whether `serial` lies in [lo, hi], both ends included (S8.3).

    Serials are normalised (upper case, spaces and hyphens removed) and split into a
    prefix and the trailing run of digits: "AC35-2311-00420" → ("AC", "35231100420").
    Only serials with the same prefix as the range compare. Their numbers compare by
    (length, value): a shorter number sorts before a longer one, equal lengths compare
    numerically, so "AC99" < "AC100" and leading zeros keep their place.
    """
    s, low, high = _serial_key(serial), _serial_key(lo), _serial_key(hi)
    return s[0] == low[0] == high[0] and low[1:] <= s[1:] <= high[1:]


def list_campaigns(session: Session, model: str | None = None) -> list[RecallCampaign]:
    query = select(RecallCampaign).order_by(RecallCampaign.starts_on.desc(), RecallCampaign.code)
    if model:
        query = query.where(RecallCampaign.product_model == get_product(session, model).model)
    return list(session.scalars(query))


def _clean_campaign(data: dict[str, Any]) -> dict[str, Any]:
    lo, hi = data.get("serial_from"), data.get("serial_to")
    lo, hi = (lo.strip() if lo else None), (hi.strip() if hi else None)
    if (lo is None) != (hi is None):
        raise Invalid("give both serial_from and serial_to, or neither")
    if lo is not None and hi is not None:
        low, high = _serial_key(lo), _serial_key(hi)
        if low[0] != high[0]:
            raise Invalid("serial_from and serial_to must share the same prefix")
        if low > high:
            raise Invalid("serial_from must not be after serial_to")
    batches = list(dict.fromkeys(b.strip() for b in data.get("batches") or [] if b.strip()))
    if data.get("ends_on") is not None and data["ends_on"] < data["starts_on"]:
        raise Invalid("ends_on must not be before starts_on")
    return {**data, "serial_from": lo, "serial_to": hi, "batches": batches}


def create_campaign(session: Session, actor: Actor, data: dict[str, Any]) -> RecallCampaign:
    """A recall of one model: a serial range and/or batches, or every unit if neither."""
    product = get_product(session, data["model"])
    data = _clean_campaign(data)
    code = data["code"].strip().upper()
    if session.scalar(select(RecallCampaign.id).where(RecallCampaign.code == code)) is not None:
        raise Conflict(f"recall campaign {code!r} already exists")
    campaign = RecallCampaign(
        code=code,
        product_model=product.model,
        serial_from=data["serial_from"],
        serial_to=data["serial_to"],
        batches=data["batches"],
        starts_on=data["starts_on"],
        ends_on=data.get("ends_on"),
        **{name: data[name] for name in CAMPAIGN_TEXTS},
    )
    session.add(campaign)
    audit.record(
        session,
        actor,
        "recall_created",
        campaign,
        data={
            "code": code,
            "model": product.model,
            "serial_from": campaign.serial_from,
            "serial_to": campaign.serial_to,
            "batches": campaign.batches,
            "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else None,
        },
    )
    _commit(session, f"recall campaign {code!r} already exists")
    return campaign


@dataclass(frozen=True)
class RecallMatch:
    campaign: RecallCampaign
    matched_by: str  # "serial", "batch" or "model" (the campaign covers every unit)


@dataclass(frozen=True)
class RecallLookup:
    model: str
    campaigns: list[RecallMatch]
    # identifiers that would decide active campaigns this lookup could not decide
    missing: list[str] = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return bool(self.campaigns)


def _match(campaign: RecallCampaign, serial: str | None, batch: str | None) -> str | None:
    has_range = campaign.serial_from is not None and campaign.serial_to is not None
    if not has_range and not campaign.batches:
        return "model"
    if has_range and serial and serial_in_range(serial, campaign.serial_from, campaign.serial_to):
        return "serial"
    if batch and normalise_code(batch) in {normalise_code(b) for b in campaign.batches}:
        return "batch"
    return None


def lookup_recall(
    session: Session, model: str, serial: str | None, batch: str | None, today: date
) -> RecallLookup:
    """Active campaigns (starts_on <= today <= ends_on, open-ended if no end) that cover
    this unit: its serial inside the range, its batch listed, or the whole model (S8.3)."""
    product = get_product(session, model)
    serial = serial if serial and normalise_code(serial) else None
    batch = batch if batch and normalise_code(batch) else None
    active = session.scalars(
        select(RecallCampaign)
        .where(
            RecallCampaign.product_model == product.model,
            RecallCampaign.starts_on <= today,
            or_(RecallCampaign.ends_on.is_(None), RecallCampaign.ends_on >= today),
        )
        .order_by(RecallCampaign.starts_on, RecallCampaign.code)
    )
    matches, missing = [], set()
    for campaign in active:
        how = _match(campaign, serial, batch)
        if how is not None:
            matches.append(RecallMatch(campaign, how))
            continue
        if campaign.serial_from is not None and serial is None:
            missing.add("serial")
        if campaign.batches and batch is None:
            missing.add("batch")
    return RecallLookup(product.model, matches, sorted(missing))


# --- demo catalogue ---------------------------------------------------------------------

_DEMO_PRODUCTS = (
    # model, name_zh, name_en, category, warranty_months (三包 periods: 7 d / 15 d / 12 m)
    (
        "KFR-35GW",
        "1.5匹变频壁挂式空调",
        "1.5 HP inverter wall-mounted air conditioner",
        "air_conditioner",
        72,
    ),
    (
        "XQG100-B14",
        "10公斤滚筒洗衣机",
        "10 kg front-loading washing machine",
        "washing_machine",
        36,
    ),
    ("BCD-470WTPZM", "470升十字对开门冰箱", "470 L French-door refrigerator", "refrigerator", 36),
    ("JSQ25-13WH", "13升燃气热水器", "13 L gas water heater", "water_heater", 36),
    ("65E3N", "65英寸4K液晶电视", "65-inch 4K LCD TV", "tv", 36),
    ("CXW-260-E610", "侧吸式吸油烟机", "side-draft range hood", "range_hood", 60),
    ("WQP12-J7309", "13套嵌入式洗碗机", "13-place built-in dishwasher", "dishwasher", 24),
    (
        "MRC1586A-600G",
        "600G反渗透净水器",
        "600G reverse-osmosis water purifier",
        "water_purifier",
        12,
    ),
)

_DEMO_CAMPAIGNS = (
    {
        "code": "RC-2026-001",
        "model": "JSQ25-13WH",
        "serial_from": "GW13-2403-00001",
        "serial_to": "GW13-2405-12000",
        "batches": [],
        "starts_on": date(2026, 3, 15),
        "ends_on": None,
        "hazard_zh": "点火控制器故障可能导致点火延迟，引起轻微爆燃。",
        "hazard_en": "A faulty ignition controller can delay ignition and cause a small "
        "flash ignition.",
        "remedy_zh": "免费上门更换点火控制器。",
        "remedy_en": "Free on-site replacement of the ignition controller.",
        "notice_zh": "如热水器点火时有“砰”声，请立即停止使用并关闭燃气阀，"
        "我们将免费上门更换点火控制器。",
        "notice_en": "If your water heater makes a bang when it lights, stop using it, close "
        "the gas valve, and we will replace the ignition controller at your home "
        "free of charge.",
    },
    {
        "code": "RC-2026-002",
        "model": "WQP12-J7309",
        "serial_from": None,
        "serial_to": None,
        "batches": ["2026W18", "2026W19"],
        "starts_on": date(2026, 6, 1),
        "ends_on": date(2027, 6, 30),
        "hazard_zh": "进水管接头可能渗漏，导致地面积水。",
        "hazard_en": "The inlet hose connector may leak and flood the floor.",
        "remedy_zh": "免费上门更换进水管。",
        "remedy_en": "Free on-site replacement of the inlet hose.",
        "notice_zh": "请在使用后关闭进水阀，我们将免费上门为您更换进水管。",
        "notice_en": "Please close the water tap after each use; we will replace the inlet "
        "hose at your home free of charge.",
    },
)


def seed_demo(session: Session) -> None:
    """The demo catalogue of the embedded default; does nothing if any product exists.

    Seed data is installation data, like the default SLA policies: it is not an actor's
    change and records no audit events. The caller commits.
    """
    if session.scalar(select(Product.id).limit(1)) is not None:
        return
    for model, name_zh, name_en, category, warranty in _DEMO_PRODUCTS:
        session.add(
            Product(
                model=model,
                name_zh=name_zh,
                name_en=name_en,
                category=category,
                warranty_months=warranty,
                return_days=7,
                exchange_days=15,
                repair_months=12,
            )
        )
    session.flush()
    for data in _DEMO_CAMPAIGNS:
        fields = {k: v for k, v in data.items() if k != "model"}
        session.add(RecallCampaign(product_model=data["model"], **fields))
