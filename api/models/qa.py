"""Quality assurance of delivered tickets (S8.2): samples of closed tickets, each sampled
ticket's review against the checklist, and the rectification a failed review opens.

A ticket is sampled at most once (`qa_reviews.ticket_id` is unique), so a sample never
holds a ticket twice and overlapping periods never review a ticket again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, Encrypted, UTCDateTime, utcnow
from api.models.ticket import Ticket


class QaSample(Base):
    """One draw: the closed tickets of a period, a share or a count of them (per kind or
    overall), chosen by a seeded generator whose seed is kept (reproducible)."""

    __tablename__ = "qa_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_first: Mapped[date]
    period_last: Mapped[date]
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every kind
    per_kind: Mapped[bool] = mapped_column(default=False)  # the size applies to each kind
    share: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int | None]
    seed: Mapped[int]
    population: Mapped[int]  # closed tickets of the period not sampled before
    drawn_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    reviews: Mapped[list[QaReview]] = relationship(back_populates="sample", order_by="QaReview.id")


class QaReview(Base):
    """A sampled ticket; scored once by a reviewer who did not handle it."""

    __tablename__ = "qa_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    # who handled the ticket when it was drawn (assignee, else who resolved it)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    scores: Mapped[dict[str, int] | None] = mapped_column(JSON)  # criterion -> points
    score: Mapped[float | None] = mapped_column(Float)  # share of the checklist's points
    threshold: Mapped[float | None] = mapped_column(Float)  # QA_PASS_THRESHOLD when scored
    passed: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Encrypted)  # the reviewer's findings
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    sample: Mapped[QaSample] = relationship(back_populates="reviews")
    ticket: Mapped[Ticket] = relationship()
    rectification: Mapped[QaRectification | None] = relationship(back_populates="review")


class QaRectification(Base):
    """What a failed review asks of the handler: correct it by `due_at`, say what was done."""

    __tablename__ = "qa_rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("qa_reviews.id"), unique=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(Encrypted)  # what was corrected

    review: Mapped[QaReview] = relationship(back_populates="rectification")
