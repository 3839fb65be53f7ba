"""Product catalogue, warranty / 三包 eligibility and recall schemas (S7.1, S8.3)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ModelCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w\-/().+ ]*$"
    ),
]
Serial = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Batch = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductFields(_In):
    """The editable fields; periods count from the purchase date (day 0), ends included."""

    name_zh: Name
    name_en: Name
    category: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$", examples=["air_conditioner"])
    warranty_months: int = Field(ge=1, le=600, description="manufacturer's warranty")
    return_days: int = Field(default=7, ge=0, le=365, description="三包 return period")
    exchange_days: int = Field(default=15, ge=0, le=365, description="三包 exchange period")
    repair_months: int = Field(default=12, ge=1, le=600, description="三包 free-repair period")


class ProductCreate(ProductFields):
    model: ModelCode = Field(examples=["KFR-35GW"])


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model: str
    name_zh: str
    name_en: str
    category: str
    warranty_months: int
    return_days: int
    exchange_days: int
    repair_months: int


class WarrantyCheckIn(_In):
    model: ModelCode = Field(examples=["KFR-35GW"])
    purchase_date: date


class EligibilityOut(BaseModel):
    """Every `*_until` date is the last day still covered."""

    model_config = ConfigDict(from_attributes=True)

    model: str
    purchase_date: date
    days_since_purchase: int
    in_warranty: bool
    warranty_until: date
    return_eligible: bool
    return_until: date
    exchange_eligible: bool
    exchange_until: date
    free_repair: bool
    free_repair_until: date
    summary_zh: str
    summary_en: str


class RecallCreate(_In):
    """A campaign with neither a serial range nor batches covers every unit of the model."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]{2,31}$", examples=["RC-2026-003"])
    model: ModelCode
    serial_from: Serial | None = Field(default=None, examples=["GW13-2403-00001"])
    serial_to: Serial | None = Field(default=None, examples=["GW13-2405-12000"])
    batches: list[Batch] = Field(default_factory=list, max_length=200)
    starts_on: date
    ends_on: date | None = None
    hazard_zh: Text
    hazard_en: Text
    remedy_zh: Text
    remedy_en: Text
    notice_zh: Text
    notice_en: Text


class RecallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    code: str
    model: str = Field(validation_alias="product_model")
    serial_from: str | None
    serial_to: str | None
    batches: list[str]
    starts_on: date
    ends_on: date | None
    hazard_zh: str
    hazard_en: str
    remedy_zh: str
    remedy_en: str
    notice_zh: str
    notice_en: str


class RecallLookupIn(_In):
    model: ModelCode
    serial: Serial | None = None
    batch: Batch | None = None


class RecallHit(RecallOut):
    matched_by: Literal["serial", "batch", "model"] = Field(
        description="what placed this unit in the campaign; `model`: every unit is affected"
    )


class RecallLookupOut(BaseModel):
    model: str
    affected: bool
    campaigns: list[RecallHit]
    missing: list[Literal["serial", "batch"]] = Field(
        description="give these too: some active campaigns of this model depend on them"
    )
