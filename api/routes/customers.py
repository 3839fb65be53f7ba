"""HTTP routes: customer lookup, profile and ticket verification (S5.5), export and
erasure (S5.7). Personal data is masked for roles that do not need it (S11.1)."""

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.deps import Admin, AnyActor, ReadSession, ServiceOnly, StaffOnly, Supervisor, WriteSession
from api.schemas.customers import (
    CustomerProfile,
    CustomerTickets,
    EraseOut,
    LookupIn,
    VerifyIn,
    VerifyOut,
)
from api.services import customers, privacy

router = APIRouter(prefix="/api/v1", tags=["customers"])


@router.post("/customers/lookup")
def lookup(body: LookupIn, session: ReadSession, actor: AnyActor) -> CustomerTickets:
    """Find a customer by phone (any common format) or by channel identity; the answer
    is masked unless your role needs the data. POST keeps phones out of URLs and logs."""
    return customers.lookup(
        session, actor, phone=body.phone, channel=body.channel, external_id=body.external_id
    )


@router.get("/customers/{customer_id}")
def get_customer(customer_id: int, session: ReadSession, actor: StaffOnly) -> CustomerProfile:
    """The profile with its contact history: tickets and conversations (S5.5)."""
    return customers.profile(session, actor, customer_id)


@router.post("/tickets/{ref}/verify")
def verify_ticket(ref: str, body: VerifyIn, session: ReadSession, _: ServiceOnly) -> VerifyOut:
    """Is the person asking about ticket `ref` its customer? By the last four digits of
    their phone or by the channel identity they write from; a failure is not explained."""
    verified = customers.verify_ticket_contact(
        session,
        ref,
        phone_last4=body.phone_last4,
        channel=body.channel,
        external_id=body.external_id,
    )
    return VerifyOut(verified=verified)


@router.get("/customers/{customer_id}/export", response_class=JSONResponse)
def export_customer(customer_id: int, session: WriteSession, actor: Supervisor) -> JSONResponse:
    """Everything held about the customer, as a JSON download (S5.7). The export is
    recorded in the audit trail."""
    data = privacy.export_customer(session, customer_id, actor=actor)
    session.commit()
    return JSONResponse(
        jsonable_encoder(data),
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'},
    )


@router.post("/customers/{customer_id}/erase")
def erase_customer(customer_id: int, session: WriteSession, actor: Admin) -> EraseOut:
    """Anonymise the customer (S5.7): tickets, statuses and ratings stay for reports,
    personal data and texts go; the audit chain stays verifiable. Twice: 409."""
    return EraseOut(**privacy.erase_customer(session, actor, customer_id))
