"""Product catalogue with warranty and 三包 periods as data, and recall campaigns (S7.1, S8.3)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64), index=True)
    warranty_months: Mapped[int]
    # 三包 (return / exchange / repair) periods, from the purchase date
    return_days: Mapped[int] = mapped_column(default=7)
    exchange_days: Mapped[int] = mapped_column(default=15)
    repair_months: Mapped[int] = mapped_column(default=12)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecallCampaign(Base):
    __tablename__ = "recall_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    product_model: Mapped[str] = mapped_column(ForeignKey("products.model"), index=True)
    # affected serial range (inclusive, compared as same-length strings) and/or batches
    serial_from: Mapped[str | None] = mapped_column(String(64))
    serial_to: Mapped[str | None] = mapped_column(String(64))
    batches: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    hazard_zh: Mapped[str] = mapped_column(Text)
    hazard_en: Mapped[str] = mapped_column(Text)
    remedy_zh: Mapped[str] = mapped_column(Text)
    remedy_en: Mapped[str] = mapped_column(Text)
    notice_zh: Mapped[str] = mapped_column(Text)
    notice_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
