"""Vocabularies shared by models, schemas and services (stored as their string values)."""

from enum import StrEnum


class TicketKind(StrEnum):
    inquiry = "inquiry"
    complaint = "complaint"
    repair = "repair"
    installation = "installation"
    maintenance = "maintenance"
    replacement = "replacement"
    recall = "recall"

    @property
    def is_service_order(self) -> bool:
        """Service orders are scheduled and carried out (S6.1, S7.1)."""
        return self not in (TicketKind.inquiry, TicketKind.complaint)


class TicketStatus(StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    investigating = "investigating"
    scheduled = "scheduled"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (TicketStatus.resolved, TicketStatus.closed, TicketStatus.cancelled)


class Channel(StrEnum):
    web = "web"
    telegram = "telegram"
    wecom = "wecom"
    phone = "phone"
    email = "email"
    console = "console"


class Role(StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"


class ConversationMode(StrEnum):
    bot = "bot"
    waiting = "waiting"
    agent = "agent"


class MessageDirection(StrEnum):
    inbound = "in"
    outbound = "out"


class Sender(StrEnum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    system = "system"


class ActorType(StrEnum):
    customer = "customer"
    staff = "staff"
    service = "service"
    system = "system"
