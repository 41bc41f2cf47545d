"""Base revision: every feature's migrations branch from here.

Revision ID: 0001_base
Revises:
"""
revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
