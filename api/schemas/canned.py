"""Canned reply schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class CannedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    zh: Text
    en: Text


class CannedReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    zh: str
    en: str
    updated_by: int | None
    updated_at: datetime
