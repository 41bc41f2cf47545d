"""Virtual keys, teams, users and spend logs.

Revision ID: 0002_keys
Revises: 0001_base
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_keys"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('keys',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('key_name', sa.String(length=32), nullable=True),
    sa.Column('key_alias', sa.String(length=256), nullable=True),
    sa.Column('user_id', sa.String(length=256), nullable=True),
    sa.Column('team_id', sa.String(length=256), nullable=True),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('max_budget', sa.Float(), nullable=True),
    sa.Column('budget_duration', sa.String(length=32), nullable=True),
    sa.Column('budget_reset_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spend', sa.Float(), nullable=False),
    sa.Column('rpm_limit', sa.Integer(), nullable=True),
    sa.Column('tpm_limit', sa.Integer(), nullable=True),
    sa.Column('max_parallel_requests', sa.Integer(), nullable=True),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_keys'))
    )
    op.create_index(op.f('ix_keys_key_alias'), 'keys', ['key_alias'], unique=False)
    op.create_index(op.f('ix_keys_team_id'), 'keys', ['team_id'], unique=False)
    op.create_index(op.f('ix_keys_user_id'), 'keys', ['user_id'], unique=False)
    op.create_table('spend_logs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('call_type', sa.String(length=32), nullable=True),
    sa.Column('api_key', sa.String(length=64), nullable=True),
    sa.Column('key_alias', sa.String(length=256), nullable=True),
    sa.Column('team_id', sa.String(length=256), nullable=True),
    sa.Column('user_id', sa.String(length=256), nullable=True),
    sa.Column('end_user', sa.String(length=256), nullable=True),
    sa.Column('model', sa.String(length=256), nullable=True),
    sa.Column('model_group', sa.String(length=256), nullable=True),
    sa.Column('model_id', sa.String(length=256), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('spend', sa.Float(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('total_tokens', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('cache_hit', sa.Boolean(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spend_logs'))
    )
    op.create_index(op.f('ix_spend_logs_api_key'), 'spend_logs', ['api_key'], unique=False)
    op.create_index('ix_spend_logs_key_time', 'spend_logs', ['api_key', 'start_time'], unique=False)
    op.create_index('ix_spend_logs_model_time', 'spend_logs', ['model_group', 'start_time'], unique=False)
    op.create_index(op.f('ix_spend_logs_request_id'), 'spend_logs', ['request_id'], unique=False)
    op.create_index('ix_spend_logs_start_time', 'spend_logs', ['start_time'], unique=False)
    op.create_index('ix_spend_logs_team_time', 'spend_logs', ['team_id', 'start_time'], unique=False)
    op.create_table('teams',
    sa.Column('team_id', sa.String(length=256), nullable=False),
    sa.Column('team_alias', sa.String(length=256), nullable=True),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('max_budget', sa.Float(), nullable=True),
    sa.Column('budget_duration', sa.String(length=32), nullable=True),
    sa.Column('budget_reset_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spend', sa.Float(), nullable=False),
    sa.Column('rpm_limit', sa.Integer(), nullable=True),
    sa.Column('tpm_limit', sa.Integer(), nullable=True),
    sa.Column('max_parallel_requests', sa.Integer(), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_teams'))
    )
    op.create_table('users',
    sa.Column('user_id', sa.String(length=256), nullable=False),
    sa.Column('user_email', sa.String(length=256), nullable=True),
    sa.Column('user_role', sa.String(length=64), nullable=True),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('max_budget', sa.Float(), nullable=True),
    sa.Column('budget_duration', sa.String(length=32), nullable=True),
    sa.Column('budget_reset_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spend', sa.Float(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_users'))
    )


def downgrade():
    op.drop_table('users')
    op.drop_table('teams')
    op.drop_index('ix_spend_logs_team_time', table_name='spend_logs')
    op.drop_index('ix_spend_logs_start_time', table_name='spend_logs')
    op.drop_index(op.f('ix_spend_logs_request_id'), table_name='spend_logs')
    op.drop_index('ix_spend_logs_model_time', table_name='spend_logs')
    op.drop_index('ix_spend_logs_key_time', table_name='spend_logs')
    op.drop_index(op.f('ix_spend_logs_api_key'), table_name='spend_logs')
    op.drop_table('spend_logs')
    op.drop_index(op.f('ix_keys_user_id'), table_name='keys')
    op.drop_index(op.f('ix_keys_team_id'), table_name='keys')
    op.drop_index(op.f('ix_keys_key_alias'), table_name='keys')
    op.drop_table('keys')

