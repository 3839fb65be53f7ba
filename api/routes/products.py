"""HTTP routes: product catalogue, warranty / 三包 check, recalls (S7.1, S8.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import Admin, AnyActor, ReadSession, SettingsDep, WriteSession
from api.schemas.products import (
    EligibilityOut,
    ProductCreate,
    ProductFields,
    ProductOut,
    RecallCreate,
    RecallHit,
    RecallLookupIn,
    RecallLookupOut,
    RecallOut,
    WarrantyCheckIn,
)
from api.services import catalogue

router = APIRouter(prefix="/api/v1", tags=["products"])

# `:path` so that model codes with a slash (e.g. "KFR-35GW/BP") still route
ModelPath = Annotated[str, Path(description="model code, e.g. KFR-35GW")]


@router.get("/products")
def list_products(
    session: ReadSession,
    _actor: AnyActor,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ProductOut]:
    return [ProductOut.model_validate(p) for p in catalogue.list_products(session, category)]


@router.post("/products", status_code=status.HTTP_201_CREATED)
def create_product(body: ProductCreate, session: WriteSession, actor: Admin) -> ProductOut:
    fields = body.model_dump(exclude={"model"})
    return ProductOut.model_validate(catalogue.create_product(session, actor, body.model, fields))


@router.get("/products/{model:path}")
def get_product(model: ModelPath, session: ReadSession, _actor: AnyActor) -> ProductOut:
    return ProductOut.model_validate(catalogue.get_product(session, model))


@router.put("/products/{model:path}")
def update_product(
    model: ModelPath, body: ProductFields, session: WriteSession, actor: Admin
) -> ProductOut:
    product = catalogue.update_product(session, actor, model, body.model_dump())
    return ProductOut.model_validate(product)


@router.post("/warranty/check")
def check_warranty(
    body: WarrantyCheckIn, session: ReadSession, settings: SettingsDep, _actor: AnyActor
) -> EligibilityOut:
    """三包 return / exchange / free-repair and warranty status on today's local date."""
    return catalogue.check_eligibility(session, body.model, body.purchase_date, settings.today())


@router.get("/recalls")
def list_recalls(
    session: ReadSession,
    _actor: AnyActor,
    model: Annotated[str | None, Query(max_length=64)] = None,
) -> list[RecallOut]:
    return [RecallOut.model_validate(c) for c in catalogue.list_campaigns(session, model)]


@router.post("/recalls", status_code=status.HTTP_201_CREATED)
def create_recall(body: RecallCreate, session: WriteSession, actor: Admin) -> RecallOut:
    return RecallOut.model_validate(catalogue.create_campaign(session, actor, body.model_dump()))


@router.post("/recalls/lookup")
def lookup_recall(
    body: RecallLookupIn, session: ReadSession, settings: SettingsDep, _actor: AnyActor
) -> RecallLookupOut:
    """Is this unit affected? By serial (inside a campaign's range), batch, or model."""
    result = catalogue.lookup_recall(session, body.model, body.serial, body.batch, settings.today())
    hits = [
        RecallHit.model_validate(
            {**RecallOut.model_validate(m.campaign).model_dump(), "matched_by": m.matched_by}
        )
        for m in result.campaigns
    ]
    return RecallLookupOut(
        model=result.model, affected=result.affected, campaigns=hits, missing=result.missing
    )
