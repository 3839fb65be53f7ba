"""Staff credentials and access tokens (OAuth2 password flow)."""

from __future__ import annotations

from datetime import timedelta

import jwt
from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import crypto
from api.db import utcnow
from api.errors import Conflict, Invalid
from api.models import Staff
from api.models.enums import Role

_hasher = PasswordHash.recommended()  # Argon2id
_ALGORITHM = "HS256"
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(session: Session, username: str, password: str) -> Staff | None:
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active:
        _hasher.hash(password)  # same cost either way: no user enumeration by timing
        return None
    return staff if _hasher.verify(password, staff.password_hash) else None


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str | None = None,
    team: str | None = None,
    skills: list[str] | None = None,
) -> Staff:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must be at least {MIN_PASSWORD} characters")
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    staff = Staff(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        team=team,
        skills=skills if skills is not None else ["*"],
    )
    session.add(staff)
    return staff


def issue_token(staff: Staff, minutes: int) -> str:
    claims = {
        "sub": str(staff.id),
        "role": staff.role,
        "exp": utcnow() + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, crypto.keyring().token_key, algorithm=_ALGORITHM)


def staff_id_from_token(token: str) -> int | None:
    try:
        claims = jwt.decode(token, crypto.keyring().token_key, algorithms=[_ALGORITHM])
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return None
