"""The classroom's first schema: challenges, students, submissions and their scores.

Written out column by column rather than from `database.py`'s tables, so that this revision keeps creating the
schema it created the first time even after the live tables change in a later revision.

Revision ID: 0001_classroom
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_classroom"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("challenge_id", sa.String(16), primary_key=True),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("instructor_digest", sa.String(128), nullable=False),
        sa.Column("join_digest", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "students",
        sa.Column("student_id", sa.String(64), primary_key=True),
        sa.Column("challenge_id", sa.String(16), sa.ForeignKey("challenges.challenge_id"), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("token_digest", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("challenge_id", "display_name", name="uq_students_challenge_name"),
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.String(64), primary_key=True),
        sa.Column("challenge_id", sa.String(16), sa.ForeignKey("challenges.challenge_id"), nullable=False),
        sa.Column("student_id", sa.String(64), sa.ForeignKey("students.student_id"), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("public_accuracy", sa.Float(), nullable=True),
        sa.Column("private_accuracy", sa.Float(), nullable=True),
        sa.Column("public_correct", sa.LargeBinary(), nullable=True),
        sa.Column("confusion_json", sa.Text(), nullable=True),
        sa.Column("private_confusion_json", sa.Text(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("status IN ('queued', 'training', 'scored', 'failed')", name="ck_submissions_status"),
    )
    # The daily cap counts one student's submissions since a time; the boards read one challenge's.
    op.create_index("ix_submissions_student_time", "submissions", ["student_id", "created_at"])
    op.create_index("ix_submissions_challenge", "submissions", ["challenge_id"])


def downgrade() -> None:
    op.drop_index("ix_submissions_challenge", table_name="submissions")
    op.drop_index("ix_submissions_student_time", table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("students")
    op.drop_table("challenges")
