"""HTTP routes: conversations (thin: parse, call a service, return a schema)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["conversations"])
