"""QA sampling of closed tickets, reviews and rectifications (S8.2)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _staff(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["staff.id"], name=op.f(f"fk_{table}_{column}_staff"))


def upgrade() -> None:
    op.create_table(
        "qa_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_first", sa.Date(), nullable=False),
        sa.Column("period_last", sa.Date(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("per_kind", sa.Boolean(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("drawn_by", sa.Integer(), nullable=True),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        _staff("qa_samples", "drawn_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_samples")),
    )
    op.create_index(op.f("ix_qa_samples_created_at"), "qa_samples", ["created_at"])
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("note", api.db.Encrypted(), nullable=True),
        sa.Column("reviewed_at", api.db.UTCDateTime(timezone=True), nullable=True),
        _staff("qa_reviews", "agent_id"),
        _staff("qa_reviews", "reviewer_id"),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["qa_samples.id"], name=op.f("fk_qa_reviews_sample_id_qa_samples")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_qa_reviews_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_qa_reviews_ticket_id")),
    )
    for column in ("agent_id", "reviewed_at", "sample_id"):
        op.create_index(op.f(f"ix_qa_reviews_{column}"), "qa_reviews", [column])
    op.create_table(
        "qa_rectifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("note", api.db.Encrypted(), nullable=True),
        _staff("qa_rectifications", "assignee_id"),
        _staff("qa_rectifications", "done_by"),
        sa.ForeignKeyConstraint(
            ["review_id"], ["qa_reviews.id"], name=op.f("fk_qa_rectifications_review_id_qa_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_rectifications")),
        sa.UniqueConstraint("review_id", name=op.f("uq_qa_rectifications_review_id")),
    )
    for column in ("assignee_id", "created_at"):
        op.create_index(op.f(f"ix_qa_rectifications_{column}"), "qa_rectifications", [column])


def downgrade() -> None:
    op.drop_table("qa_rectifications")
    op.drop_table("qa_reviews")
    op.drop_table("qa_samples")
