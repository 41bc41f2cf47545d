"""Stored Responses API responses.

Revision ID: 0003_responses
Revises: 0001_base
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_responses"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("api_key", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=256), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("input_items", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_expires_at"), "responses", ["expires_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_responses_expires_at"), table_name="responses")
    op.drop_table("responses")
