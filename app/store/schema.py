"""Every table of the gateway, in SQLAlchemy Core (one MetaData; migrations mirror it)."""
from sqlalchemy import MetaData

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

from sqlalchemy import (  # noqa: E402
    JSON, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text)

# Virtual keys (LiteLLM's LiteLLM_VerificationToken): stored by sha256 hex of the raw key.
keys = Table(
    "keys", metadata,
    Column("token", String(64), primary_key=True),          # sha256 hex of the raw key
    Column("key_name", String(32)),                          # display form "sk-...abcd"
    Column("key_alias", String(256), index=True),
    Column("user_id", String(256), index=True),
    Column("team_id", String(256), index=True),
    Column("models", JSON, nullable=False, default=list),
    Column("max_budget", Float),
    Column("budget_duration", String(32)),
    Column("budget_reset_at", DateTime(timezone=True)),      # end of the current window
    Column("spend", Float, nullable=False, default=0.0),     # current window's spend
    Column("rpm_limit", Integer),
    Column("tpm_limit", Integer),
    Column("max_parallel_requests", Integer),
    Column("expires", DateTime(timezone=True)),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_used", DateTime(timezone=True)),
)

teams = Table(
    "teams", metadata,
    Column("team_id", String(256), primary_key=True),
    Column("team_alias", String(256)),
    Column("models", JSON, nullable=False, default=list),
    Column("members", JSON, nullable=False, default=list),  # user ids
    Column("max_budget", Float),
    Column("budget_duration", String(32)),
    Column("budget_reset_at", DateTime(timezone=True)),
    Column("spend", Float, nullable=False, default=0.0),
    Column("rpm_limit", Integer),
    Column("tpm_limit", Integer),
    Column("max_parallel_requests", Integer),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users", metadata,
    Column("user_id", String(256), primary_key=True),
    Column("user_email", String(256)),
    Column("user_role", String(64)),
    Column("models", JSON, nullable=False, default=list),
    Column("max_budget", Float),
    Column("budget_duration", String(32)),
    Column("budget_reset_at", DateTime(timezone=True)),
    Column("spend", Float, nullable=False, default=0.0),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per model call (successes and failures), written in batches off the request path.
spend_logs = Table(
    "spend_logs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False, index=True),  # the completion id
    Column("call_type", String(32)),                      # chat, embeddings, completions, ...
    Column("api_key", String(64), index=True),            # key hash; None for the master key
    Column("key_alias", String(256)),
    Column("team_id", String(256)),
    Column("user_id", String(256)),
    Column("end_user", String(256)),                      # the body's `user`
    Column("model", String(256)),                         # requested name
    Column("model_group", String(256)),
    Column("model_id", String(256)),                      # deployment id
    Column("provider", String(64)),
    Column("spend", Float, nullable=False, default=0.0),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("total_tokens", Integer, nullable=False, default=0),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Float),
    Column("status", String(16), nullable=False),         # "success" | "failure"
    Column("status_code", Integer),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("error_message", Text),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("messages", JSON),          # only with general_settings.store_prompts_in_spend_logs
    Column("response", JSON),          # likewise
    Index("ix_spend_logs_start_time", "start_time"),
    Index("ix_spend_logs_key_time", "api_key", "start_time"),
    Index("ix_spend_logs_team_time", "team_id", "start_time"),
    Index("ix_spend_logs_model_time", "model_group", "start_time"),
)

# Stored Responses API responses (/v1/responses with store: true), readable by their creator
# (key hash, or team) until expires_at. `context` holds the earlier turns replayed through
# previous_response_id, `input_items` this turn's input, `response` the response object: JSON
# text encoded by orjson (written on the request path; the JSON type's stdlib encoder costs more).
responses = Table(
    "responses", metadata,
    Column("id", String(64), primary_key=True),
    Column("api_key", String(64)),                       # creator's key hash; None = master key
    Column("team_id", String(256)),
    Column("model", String(256)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("context", Text, nullable=False),
    Column("input_items", Text, nullable=False),
    Column("response", Text, nullable=False),
)
