"""Staff login (OAuth2 password flow) and who-am-I."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import ReadSession, SettingsDep, StaffOnly
from api.models import Staff
from api.schemas.staff import StaffOut, Token
from api.services import auth

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: ReadSession,
    settings: SettingsDep,
) -> Token:
    staff = auth.authenticate(session, form.username, form.password)
    if staff is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=auth.issue_token(staff, settings.access_token_minutes))


@router.get("/me")
def me(actor: StaffOnly, session: ReadSession) -> StaffOut:
    return StaffOut.model_validate(session.get(Staff, actor.staff_id))
