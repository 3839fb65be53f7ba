"""What the assistant did not understand, kept for the training data (S12.3).

One row per customer message the bot could not place (`not_understood`: below the NLU
threshold) or placed outside the service (`out_of_scope`). The text is personal data:
encrypted, grouped through a keyed hash of its normalised form, erased with the customer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, Encrypted, UTCDateTime, utcnow


class UnrecognisedMessage(Base):
    __tablename__ = "unrecognised_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    text: Mapped[str] = mapped_column(Encrypted)
    text_index: Mapped[str] = mapped_column(String(64), index=True)  # crypto.blind_index
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(64))  # the model's best guess
    confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
