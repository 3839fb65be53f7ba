"""HTTP routes: canned replies for the agent console (read: staff; write: supervisors)."""

from fastapi import APIRouter, Response, status

from api.deps import ReadSession, StaffOnly, Supervisor, WriteSession
from api.schemas.canned import CannedReplyIn, CannedReplyOut
from api.services import canned

router = APIRouter(prefix="/api/v1/canned-replies", tags=["console"])


@router.get("")
def list_replies(_actor: StaffOnly, session: ReadSession) -> list[CannedReplyOut]:
    return [CannedReplyOut.model_validate(r) for r in canned.listing(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_reply(body: CannedReplyIn, actor: Supervisor, session: WriteSession) -> CannedReplyOut:
    reply = canned.create(session, actor, body.title, body.zh, body.en)
    session.commit()
    return CannedReplyOut.model_validate(reply)


@router.put("/{reply_id}")
def update_reply(
    reply_id: int, body: CannedReplyIn, actor: Supervisor, session: WriteSession
) -> CannedReplyOut:
    reply = canned.update(session, actor, reply_id, body.title, body.zh, body.en)
    session.commit()
    return CannedReplyOut.model_validate(reply)


@router.delete("/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_reply(reply_id: int, actor: Supervisor, session: WriteSession) -> Response:
    canned.delete(session, actor, reply_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
