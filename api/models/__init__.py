"""The ORM models; importing this package registers every table on `Base.metadata`."""

from api.models.canned import CannedReply
from api.models.conversation import Conversation, Message
from api.models.customer import ChannelIdentity, Customer
from api.models.event import AuditHead, Event
from api.models.product import Product, RecallCampaign
from api.models.qa import QaRectification, QaReview, QaSample
from api.models.staff import Staff
from api.models.ticket import CalendarDay, Feedback, SlaPolicy, Ticket, TicketCounter
from api.models.unrecognised import UnrecognisedMessage

__all__ = [
    "AuditHead",
    "CalendarDay",
    "CannedReply",
    "ChannelIdentity",
    "Conversation",
    "Customer",
    "Event",
    "Feedback",
    "Message",
    "Product",
    "QaRectification",
    "QaReview",
    "QaSample",
    "RecallCampaign",
    "SlaPolicy",
    "Staff",
    "Ticket",
    "TicketCounter",
    "UnrecognisedMessage",
]
